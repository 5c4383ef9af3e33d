"""IAM grants named actions on named resources; the bucket, table and queues are private and encrypted."""

import re

import pytest

from tests.deploy.conftest import resources_of

# A wildcard is only fine at the end of a named prefix: an S3 key prefix, or a named log group's streams.
_NARROW_WILDCARD = re.compile(r"(/[a-z]+/\*|:log-group:/aws/lambda/\$\{AWS::StackName\}-[a-z-]+:\*)$")


def _statements(translated):
    for name, role in resources_of(translated, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def _listed(value):
    return value if isinstance(value, list) else [value]


def _text(resource):
    """An ARN as written: a string, or the template string of a !Sub."""
    return resource["Fn::Sub"] if isinstance(resource, dict) and "Fn::Sub" in resource else resource


def test_roles_attach_no_managed_policies(translated):
    for role in resources_of(translated, "AWS::IAM::Role").values():
        assert not role["Properties"].get("ManagedPolicyArns"), "managed policies grant logs:* on every log group"


def test_only_lambda_may_assume_the_roles(translated):
    for role in resources_of(translated, "AWS::IAM::Role").values():
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_no_wildcard_actions(translated):
    for role, statement in _statements(translated):
        assert statement["Effect"] == "Allow"
        for action in _listed(statement["Action"]):
            assert "*" not in action, f"{role}: {action}"


def test_no_wildcard_resources_beyond_a_named_prefix(translated):
    for role, statement in _statements(translated):
        for resource in _listed(statement["Resource"]):
            text = _text(resource)
            if isinstance(text, str) and "*" in text:
                assert _NARROW_WILDCARD.search(text), f"{role} {statement['Action']}: {text}"


@pytest.mark.parametrize("key", ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"])
def test_the_bucket_blocks_public_access(translated, key):
    [bucket] = resources_of(translated, "AWS::S3::Bucket").values()
    assert bucket["Properties"]["PublicAccessBlockConfiguration"][key] is True


def test_the_bucket_is_encrypted_and_owner_enforced(translated):
    [bucket] = resources_of(translated, "AWS::S3::Bucket").values()
    [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_the_table_and_queues_are_encrypted_at_rest(translated):
    [table] = resources_of(translated, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    for queue in resources_of(translated, "AWS::SQS::Queue").values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")
