"""WorkloadIdentity: a user-assigned managed identity a Kubernetes service account signs in as.

Identity + federated identity credential (the cluster's OIDC issuer, the service account's
subject, audience api://AzureADTokenExchange) + role assignments. A pod whose service account is
annotated azure.workload.identity/client-id=<clientId> (and labelled
azure.workload.identity/use=true) then reaches Azure without a secret. Used by upstream KAITO's
GPU provisioner; reusable by anything else that must.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, managedidentity

TOKEN_AUDIENCE = "api://AzureADTokenExchange"
# Built-in role definition IDs, the same in every tenant (MicrosoftDocs/azure-docs:
# articles/role-based-access-control/built-in-roles.md).
BUILT_IN_ROLES: dict[str, str] = {
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Azure Kubernetes Service Contributor Role": "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Virtual Machine Contributor": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
    "Azure Kubernetes Service RBAC Reader": "7f6c6a51-bcf8-42ba-9220-52d62157d7db",
    "Azure Kubernetes Service Cluster User Role": "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
    "Monitoring Data Reader": "b0d8363b-8ddd-447d-831f-62ca05bff136",
    "Grafana Admin": "22926164-76b3-42b3-bc55-97df8dab3e41",
    "Grafana Viewer": "60921a7e-fef1-4a43-9b16-a26c52ad4769",
}


@dataclass(frozen=True)
class RoleGrant:
    """A built-in role on a scope; `scope_key` names the scope stably (the scope itself may be unknown
    until deployment), so the role assignment's GUID does not change between previews."""

    role: str
    """A built-in role's name (BUILT_IN_ROLES), or a custom role's label when `role_definition_id` is set."""
    scope: pulumi.Input[str]
    scope_key: str
    role_definition_id: pulumi.Input[str] | None = None
    """A custom role's definition ID."""


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    identity_name: str
    resource_group_name: pulumi.Input[str]
    location: str
    oidc_issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL."""
    namespace: str
    """Namespace of the Kubernetes service account."""
    service_account: str
    """Name of the Kubernetes service account."""
    roles: Sequence[RoleGrant] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class WorkloadIdentity(pulumi.ComponentResource):
    """Identity, federated credential and role assignments for one Kubernetes service account."""

    client_id: pulumi.Output[str]
    """For the service account annotation azure.workload.identity/client-id."""
    principal_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    federated_credential: managedidentity.FederatedIdentityCredential
    role_assignments: list[authorization.RoleAssignment]

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:identity:WorkloadIdentity", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=dict(args.tags),
            opts=child,
        )
        self.federated_credential = managedidentity.FederatedIdentityCredential(
            f"{name}-federated-credential",
            federated_identity_credential_resource_name=f"{args.namespace}-{args.service_account}",
            resource_name_=identity.name,
            resource_group_name=args.resource_group_name,
            issuer=args.oidc_issuer_url,
            subject=service_account_subject(args.namespace, args.service_account),
            audiences=[TOKEN_AUDIENCE],
            opts=child,
        )
        self.role_assignments = [
            assign_role(
                f"{name}-{grant.scope_key}-{slug(grant.role)}",
                principal_id=identity.principal_id,
                # The identity is new: without the type, Entra may not have replicated it yet and
                # the assignment fails with PrincipalNotFound.
                principal_type="ServicePrincipal",
                role=grant.role,
                scope=grant.scope,
                role_definition_id=grant.role_definition_id,
                opts=child,
            )
            for grant in args.roles
        ]

        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.tenant_id = identity.tenant_id
        self.register_outputs(
            {"clientId": self.client_id, "principalId": self.principal_id, "tenantId": self.tenant_id}
        )


def service_account_subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def assign_role(
    resource_name: str,
    *,
    principal_id: pulumi.Input[str],
    principal_type: str | None,
    role: str,
    scope: pulumi.Input[str],
    role_definition_id: pulumi.Input[str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> authorization.RoleAssignment:
    """One role assignment: `role` (a built-in role's name, or a label when `role_definition_id` names a custom
    role) for a principal on a scope.

    Its name is a GUID derived from the scope, the principal and the role: assignment names must be unique in the
    whole Entra tenant, even at narrower scopes (MicrosoftDocs/azure-docs:articles/role-based-access-control/
    role-assignments.md, "Name"), so two stacks in one tenant must not derive the same one. An assignment cannot
    be changed in place, and Azure refuses a second assignment of the same role to the same principal on the same
    scope: a replacement deletes the old one first."""
    definition = role_definition_id or pulumi.Output.from_input(scope).apply(
        lambda arm_scope: built_in_role_id(subscription_of(arm_scope), role)
    )
    name = pulumi.Output.all(scope, principal_id, definition).apply(
        lambda parts: str(uuid.uuid5(uuid.NAMESPACE_URL, "kaito-aks/role-assignment/" + "|".join(parts).lower()))
    )
    return authorization.RoleAssignment(
        resource_name,
        role_assignment_name=name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=definition,
        scope=scope,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
    )


def built_in_role_id(subscription_id: str, role: str) -> str:
    """The role definition ID ARM reports for a built-in role (subscription-qualified)."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{BUILT_IN_ROLES[role]}"


def subscription_of(arm_id: str) -> str:
    """/subscriptions/<id>/resourceGroups/... -> <id>"""
    parts = arm_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def slug(text: str) -> str:
    """A role's name as part of a resource name."""
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
