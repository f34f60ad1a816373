"""The kinds of value a setting can hold: how its config text becomes a typed value, or why it cannot.

A kind knows its Pulumi.yaml type (None: Pulumi's project schema cannot declare it), parses the
text Pulumi hands the program (objects and lists arrive as JSON) and, when the text is wrong, raises
Invalid with the reason and the fix; stacks/settings adds the key and the value to the message.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class Invalid(Exception):
    """A value a kind refuses: `reason` follows "<key> '<value>'", `fix` says what would work."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(f"{reason}; {fix}")
        self.reason = reason
        self.fix = fix


def closest_hint(text: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(text, list(names), n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


class Kind:
    """How one setting's text is read."""

    schema_type: str | None = "string"
    """The setting's type in Pulumi.yaml; None when the project schema cannot express it."""
    secret: bool = False

    def parse(self, text: str, key: str) -> Any:
        raise NotImplementedError

    def schema_default(self, default: Any) -> Any:
        """The default as Pulumi.yaml writes it ("" stands for "not set")."""
        return "" if default is None else default


@dataclass(frozen=True)
class Text(Kind):
    """Free text, optionally matching a pattern and passing a check."""

    pattern: str | None = None
    meaning: str = ""
    """What the pattern means, for the message (e.g. "a DNS-1123 label (...)")."""
    example: str = ""
    check: Callable[[str], tuple[str, str] | None] | None = None
    """Returns (reason, fix) when the text is refused."""

    def parse(self, text: str, key: str) -> str:
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise Invalid(f"is not {self.meaning}", f"use e.g. '{self.example}'")
        if self.check is not None and (refused := self.check(text)) is not None:
            raise Invalid(*refused)
        return text


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words, each with its meaning."""

    options: Mapping[str, str] = field(default_factory=dict)
    what: str = "a choice"

    def parse(self, text: str, key: str) -> str:
        if text not in self.options:
            meanings = "; ".join(f"{name} ({meaning})" if meaning else name for name, meaning in self.options.items())
            raise Invalid(
                f"is not {self.what}" + closest_hint(text, list(self.options)),
                f"use one of {meanings} (e.g. `pulumi config set {key} {next(iter(self.options))}`)",
            )
        return text


@dataclass(frozen=True)
class Integer(Kind):
    minimum: int = 0
    maximum: int | None = None
    schema_type: str | None = "integer"

    def parse(self, text: str, key: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise Invalid("is not a whole number", f"use e.g. {max(self.minimum, 1)}") from None
        if number < self.minimum or (self.maximum is not None and number > self.maximum):
            upper = f" and at most {self.maximum}" if self.maximum is not None else ""
            raise Invalid(f"must be at least {self.minimum}{upper}", f"use e.g. {max(self.minimum, 1)}")
        return number


@dataclass(frozen=True)
class Boolean(Kind):
    schema_type: str | None = "boolean"

    def parse(self, text: str, key: str) -> bool:
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise Invalid("is not true or false", f"use e.g. `pulumi config set {key} false`")
        return lowered == "true"


@dataclass(frozen=True)
class Date(Kind):
    first_of_month: bool = False

    def parse(self, text: str, key: str) -> str:
        try:
            date = datetime.date.fromisoformat(text)
        except ValueError:
            raise Invalid("is not a date", "use YYYY-MM-DD, e.g. 2027-01-31") from None
        if self.first_of_month and date.day != 1:
            raise Invalid(
                "must be the first day of a month (Azure budgets start on one)",
                f"e.g. {date.replace(day=1).isoformat()}",
            )
        return date.isoformat()


@dataclass(frozen=True)
class TextList(Kind):
    """A list of strings (JSON in the config text), each passing `item`."""

    item: Callable[[str], str | None] = lambda text: None
    """Returns why an entry is refused, or None."""
    items_are: str = "strings"
    example: str = "value"
    schema_type: str | None = "array"

    def parse(self, text: str, key: str) -> tuple[str, ...]:
        how = f"`pulumi config set --path '{key}[0]' {self.example}`"
        try:
            values = json.loads(text) if text else []
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise Invalid(f"is not a list of {self.items_are}", f"set it with {how}")
        problems = [f"'{value}' {why}" for value in values if (why := self.item(value.strip())) is not None]
        if problems:
            raise Invalid(f"has {'a wrong entry' if len(problems) == 1 else 'wrong entries'}: " + "; ".join(problems),
                          f"use e.g. {self.example}")
        return tuple(value.strip() for value in values)

    def schema_default(self, default: Any) -> Any:
        return list(default)


class MapKind(Kind):
    """A map (JSON in the config text), which Pulumi's project schema cannot declare."""

    schema_type: str | None = None

    @staticmethod
    def load(text: str, is_not: str, fix: str) -> dict[str, Any]:
        """The map in `text`; Invalid("is not <is_not>", fix) when it is not JSON or not a map."""
        try:
            loaded = json.loads(text) if text else {}
        except json.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            raise Invalid(f"is not {is_not}", fix)
        return loaded

    def schema_default(self, default: Any) -> Any:
        return dict(default)


@dataclass(frozen=True)
class Tags(MapKind):
    """A map of Azure tag names to values."""

    # Azure tag names may not contain these characters; names are at most 512, values 256 characters.
    forbidden: str = "<>%&\\?/"

    def parse(self, text: str, key: str) -> dict[str, str]:
        how = f"`pulumi config set --path '{key}.owner' platform-team`"
        tags = self.load(text, "a map of names to values", f"set tags with {how}")
        problems = []
        clean: dict[str, str] = {}
        for name, value in tags.items():
            if isinstance(value, (dict, list)) or value is None:
                problems.append(f"{name} {json.dumps(value)} is not a plain value (Azure tags are strings)")
                continue
            if not name or len(name) > 512 or set(self.forbidden) & set(name):
                problems.append(
                    f"name '{name}' is not a valid Azure tag name (1-512 characters, none of "
                    f"{' '.join(self.forbidden)}), e.g. 'cost-center'"
                )
                continue
            text_value = str(value).lower() if isinstance(value, bool) else str(value)
            if len(text_value) > 256:
                problems.append(f"{name} is {len(text_value)} characters (Azure allows at most 256)")
                continue
            clean[name] = text_value
        if problems:
            raise Invalid("has " + "; ".join(problems), f"set tags with {how}")
        return dict(sorted(clean.items()))


@dataclass(frozen=True)
class TeamLimits:
    """One API team's limits, and the version of its key (raise it to rotate the key)."""

    requests_per_minute: int
    tokens_per_minute: int
    key_version: int = 1


TEAM_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?")


@dataclass(frozen=True)
class Teams(MapKind):
    """A map of team names to {requestsPerMinute, tokensPerMinute, keyVersion}."""

    reserved: tuple[str, ...] = ()

    def parse(self, text: str, key: str) -> dict[str, TeamLimits]:
        how = (f"`pulumi config set --path '{key}.app-team.requestsPerMinute' 60` and "
               f"`pulumi config set --path '{key}.app-team.tokensPerMinute' 100000`")
        teams = self.load(text, "a map of team names to their limits", f"set a team with {how}")
        problems = []
        parsed: dict[str, TeamLimits] = {}
        for name, limits in teams.items():
            if not TEAM_NAME.fullmatch(name) or name in self.reserved:
                why = "is kaito-aks's own" if name in self.reserved else \
                    "is not a team name (lower-case letters, digits and '-', at most 32 characters)"
                problems.append(f"team '{name}' {why}")
                continue
            required = {"requestsPerMinute", "tokensPerMinute"}
            if not isinstance(limits, dict) or set(limits) - {*required, "keyVersion"} or required - set(limits):
                problems.append(f"team '{name}' needs requestsPerMinute and tokensPerMinute (and may have keyVersion)")
                continue
            values = [limits.get("requestsPerMinute"), limits.get("tokensPerMinute"), limits.get("keyVersion", 1)]
            if not all(isinstance(value, int) and not isinstance(value, bool) and value >= 1 for value in values):
                problems.append(f"team '{name}' limits and keyVersion must be whole numbers of at least 1, "
                                f"not {json.dumps(limits)}")
                continue
            parsed[name] = TeamLimits(*values)  # type: ignore[arg-type]
        if problems:
            raise Invalid("has " + "; ".join(problems), f"set a team with {how}")
        return dict(sorted(parsed.items()))


@dataclass(frozen=True)
class ModelEntry:
    """One more model of the stack: its model and, where given, its own size, VM size, node count and copies
    (None: the stack's model size, the size's first VM that fits, one node, one copy)."""

    model: str
    model_size: str | None = None
    instance_type: str | None = None
    node_count: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True)
class Models(MapKind):
    """A map of names (each model's Workspace name) to {model, and optionally modelSize, instanceType, nodeCount,
    minReplicas, maxReplicas}, each read by the kind of the stack-wide setting of the same key."""

    fields: Mapping[str, tuple[str, Kind]] = field(default_factory=dict)
    """Entry key -> (ModelEntry attribute, the kind that reads its value)."""
    name: Kind = field(default_factory=Text)
    """How an entry's name (its Workspace name) is read."""

    def parse(self, text: str, key: str) -> dict[str, ModelEntry]:
        how = f"`pulumi config set --path '{key}.ws-second.model' <model>`"
        entries = self.load(text, "a map of Workspace names to models", f"add a model with {how}")
        problems = []
        parsed: dict[str, ModelEntry] = {}
        for name, entry in entries.items():
            try:
                self.name.parse(name, f"{key}.{name}")
            except Invalid as error:
                problems.append(f"name '{name}' {error.reason} ({error.fix})")
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or not entry["model"].strip():
                problems.append(f"'{name}' names no model: {how.replace('ws-second', name)}")
                continue
            values: dict[str, Any] = {}
            for entry_key, value in entry.items():
                if entry_key not in self.fields:
                    hint = closest_hint(entry_key, list(self.fields))
                    problems.append(f"'{name}.{entry_key}' is not a model's key{hint} (keys: {', '.join(self.fields)})")
                    continue
                attribute, kind = self.fields[entry_key]
                value_text = value.strip() if isinstance(value, str) else json.dumps(value)
                try:
                    # The key as the kind's fix writes it into a command: a nested key is set with --path.
                    values[attribute] = kind.parse(value_text, f"--path '{key}.{name}.{entry_key}'")
                except Invalid as error:
                    problems.append(f"'{name}.{entry_key}' '{value_text}' {error.reason} ({error.fix})")
            if len(values) == len(entry):
                parsed[name] = ModelEntry(**values)
        if problems:
            raise Invalid("has " + "; ".join(problems), f"a model is set with {how}")
        return dict(sorted(parsed.items()))


class SecretText:
    """A secret config value that never shows itself in a repr, a log line or an exception."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretText('[secret]')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", self._value))


@dataclass(frozen=True)
class Secret(Kind):
    """Text that must be set with `pulumi config set --secret`."""

    schema_type: str | None = None
    secret: bool = True

    def parse(self, text: str, key: str) -> SecretText:
        return SecretText(text)


# --- item checks ------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OPEN_TO_EVERYONE = {"0.0.0.0/0", "::/0"}


def cidr_check(what: str) -> Callable[[str], str | None]:
    """Why a CIDR is refused, for a list of networks allowed to reach `what`; the whole internet never is."""

    def problem(text: str) -> str | None:
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as error:
            return f"is not a CIDR ({error})"
        if str(network) in OPEN_TO_EVERYONE:
            return f"opens {what} to the whole internet: list the networks that need it"
        return None

    return problem


cidr_problem = cidr_check("the front door")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def object_id_problem(text: str) -> str | None:
    if GUID.match(text):
        return None
    return "is not an object ID (a GUID; `az ad group show --group <name> --query id -o tsv` prints it)"


def email_problem(text: str) -> str | None:
    return None if EMAIL.match(text) else "is not an e-mail address"
