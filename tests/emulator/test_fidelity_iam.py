"""Fidelity, issue 12 item 1: AWS-managed IAM policies exist and attach, as every course setup script expects."""

import pytest

pytestmark = pytest.mark.integration

MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
}


def test_aws_managed_policies_exist_and_attach_to_a_role(cloud):
    iam = cloud.client("iam")
    role = cloud.role()
    for arn in sorted(MANAGED_POLICIES):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == MANAGED_POLICIES
    assert iam.list_policies(Scope="AWS", MaxItems=10)["Policies"]
