"""The tests drive the program through the same offline runner the plan command uses."""

from stacks.offline import (  # noqa: F401 - re-exported for the tests
    PUBLIC_IP,
    ProgramRun,
    Registered,
    run_failing_program,
    run_program,
    stack_config,
)
