"""Fidelity: DynamoDB requests DynamoDB refuses are refused here (emulator/aws/dynamodb.py). Plain boto3: reruns
against AWS (the course's students table is keyed by `name`, a reserved word)."""

import pytest
from botocore.exceptions import ClientError

from emulator.aws.dynamodb import reserved_word_in_key_condition
from tests.emulator.fidelity import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def students(cloud):
    dynamodb, table = cloud.client("dynamodb"), unique("students")
    dynamodb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    dynamodb.put_item(TableName=table, Item={"name": {"S": "president_trump"}, "major": {"S": "law"}})
    yield table
    dynamodb.delete_table(TableName=table)


def _code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return f'{refused.value.response["Error"]["Code"]}: {refused.value.response["Error"]["Message"]}'


def test_a_key_condition_naming_a_reserved_word_is_refused_and_a_placeholder_works(cloud, students):
    dynamodb = cloud.client("dynamodb")
    assert _code(lambda: dynamodb.query(TableName=students, KeyConditionExpression="name = :n",
                                        ExpressionAttributeValues={":n": {"S": "president_trump"}})) == (
        "ValidationException: Invalid KeyConditionExpression: Attribute name is a reserved keyword; "
        "reserved keyword: name")
    found = dynamodb.query(TableName=students, KeyConditionExpression="#n = :n",
                           ExpressionAttributeNames={"#n": "name"},
                           ExpressionAttributeValues={":n": {"S": "president_trump"}})
    assert found["Count"] == 1


def test_a_key_of_another_type_than_the_table_defines_is_refused(cloud, students):
    dynamodb = cloud.client("dynamodb")
    assert _code(lambda: dynamodb.get_item(TableName=students, Key={"name": {"N": "1"}})) == (
        "ValidationException: The provided key element does not match the schema")
    assert _code(lambda: dynamodb.delete_item(TableName=students, Key={"name": {"B": b"x"}})).startswith(
        "ValidationException: The provided key element does not match the schema")


def test_more_than_25_writes_in_one_batch_are_refused(cloud, students):
    dynamodb = cloud.client("dynamodb")
    puts = [{"PutRequest": {"Item": {"name": {"S": f"person{i}"}}}} for i in range(26)]
    assert _code(lambda: dynamodb.batch_write_item(RequestItems={students: puts})) == (
        "ValidationException: Too many items requested for the BatchWriteItem call")
    assert dynamodb.scan(TableName=students, Select="COUNT")["Count"] == 1  # nothing of it was written
    dynamodb.batch_write_item(RequestItems={students: puts[:25]})
    assert dynamodb.scan(TableName=students, Select="COUNT")["Count"] == 26


@pytest.mark.parametrize(("expression", "reserved"), [
    ("#n = :v", None), ("name = :v", "name"), ("pk = :v AND begins_with(sk, :p)", None),
    ("pk = :v and sk BETWEEN :a AND :b", None), ("id = :v AND begins_with(status, :s)", "status"),
    ("pk=:v AND #year > :y", None), ("year>:y", "year")])
def test_the_words_of_a_key_condition_that_name_attributes(expression, reserved):
    assert reserved_word_in_key_condition(expression) == reserved


@pytest.mark.parametrize(("name", "constraint"), [
    ("ab", "Member must have length greater than or equal to 3"),
    ("students table", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
    ("t" * 256, "Member must have length less than or equal to 255")])
def test_a_table_name_outside_dynamodb_s_rules_is_refused(cloud, name, constraint):
    """moto made these tables."""
    dynamodb = cloud.client("dynamodb")
    assert _code(lambda: dynamodb.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")) == (
        f"ValidationException: 1 validation error detected: Value '{name}' at 'tableName' failed to satisfy "
        f"constraint: {constraint}")
