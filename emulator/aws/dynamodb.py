"""DynamoDB: what the emulator changes in moto's DynamoDB (5.2.5, pinned): requests DynamoDB refuses are refused.

- `DynamoDBBackend.get_keys_value` (GetItem, DeleteItem): a key attribute of another type than the table defines
  is `ValidationException` "The provided key element does not match the schema"; moto looked the key up as given
  and answered that there was no such item;
- `dynamodb.responses.parse_expression` (Query): a KeyConditionExpression naming a reserved word (`name`, `year`,
  `status`...) itself, not through an ExpressionAttributeNames placeholder, is `ValidationException` "Invalid
  KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html); moto checked the other
  expressions but not this one;
- `DynamoDBBackend.create_table`: a table name outside 3-255 characters of `[a-zA-Z0-9_.-]` is `ValidationException`
  "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: Member must have length
  greater than or equal to 3" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html);
  moto made it;
- `DynamoHandler.batch_write_item`: more than 25 put and delete requests is `ValidationException` "Too many items
  requested for the BatchWriteItem call"
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html); moto wrote them all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import moto.dynamodb.responses as dynamodb_responses
from moto.dynamodb.exceptions import MockValidationException, ProvidedKeyDoesNotExist
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords
from moto.dynamodb.responses import DynamoHandler

from emulator.aws.registry import Internal, Patch

KEYS_VALUE = Internal(DynamoDBBackend, "get_keys_value", ("self", "table", "keys"))
KEY_CONDITION = Internal(dynamodb_responses, "parse_expression",
                         ("key_condition_expression", "expression_attribute_values", "expression_attribute_names",
                          "schema"))
BATCH_WRITE = Internal(DynamoHandler, "batch_write_item", ("self",), source='self.body["RequestItems"]')
CREATE_TABLE = Internal(DynamoDBBackend, "create_table", ("self", "name", "schema"))
INTERNALS = (KEYS_VALUE, KEY_CONDITION, BATCH_WRITE, CREATE_TABLE)
BATCH_WRITE_LIMIT = 25
TABLE_NAME_LENGTH = (3, 255)
TABLE_NAME_PATTERN = "[a-zA-Z0-9_.-]+"
# A KeyConditionExpression's words that are not attribute names: its operators and its one function.
_KEY_CONDITION_WORDS = frozenset({"AND", "BETWEEN", "BEGINS_WITH"})
_BARE_WORD = re.compile(r"(?<![#:\w])[A-Za-z_][A-Za-z0-9_]*")


def patches() -> list[Patch]:
    return [Patch(KEYS_VALUE, _typed_keys), Patch(KEY_CONDITION, _key_condition_without_reserved_words),
            Patch(BATCH_WRITE, _at_most_25_writes), Patch(CREATE_TABLE, _valid_table_names)]


def table_name_problem(name: str) -> str | None:
    """The constraint a table name breaks, in DynamoDB's words; None for a valid name."""
    shortest, longest = TABLE_NAME_LENGTH
    if len(name) < shortest:
        return f"Member must have length greater than or equal to {shortest}"
    if len(name) > longest:
        return f"Member must have length less than or equal to {longest}"
    if not re.fullmatch(TABLE_NAME_PATTERN, name):
        return f"Member must satisfy regular expression pattern: {TABLE_NAME_PATTERN}"
    return None


def reserved_word_in_key_condition(expression: str) -> str | None:
    """The first reserved word a KeyConditionExpression names as an attribute (not through a #placeholder)."""
    for word in _BARE_WORD.findall(expression):
        if word.upper() not in _KEY_CONDITION_WORDS and word.upper() in _reserved_words():
            return word
    return None


@functools.cache
def _reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words (moto's list of ~570), as a set made once, not on every Query."""
    return frozenset(ReservedKeywords.get_reserved_keywords())


def _typed_keys(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_keys_value(backend: DynamoDBBackend, table: Table, keys: dict[str, Any]) -> Any:
        types = {definition["AttributeName"]: definition["AttributeType"] for definition in table.attr}
        for name, value in keys.items():
            if name in types and isinstance(value, dict) and list(value) != [types[name]]:
                raise ProvidedKeyDoesNotExist()
        return original(backend, table, keys)

    return get_keys_value


def _key_condition_without_reserved_words(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_expression(key_condition_expression: str, *args: Any, **kwargs: Any) -> Any:
        word = reserved_word_in_key_condition(key_condition_expression or "")
        if word is not None:
            raise MockValidationException(
                f"Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: {word}")
        return original(key_condition_expression, *args, **kwargs)

    return parse_expression


def _at_most_25_writes(original: Callable[..., Any]) -> Callable[..., Any]:
    def batch_write_item(handler: DynamoHandler) -> Any:
        requests = sum(len(table_requests) for table_requests in handler.body.get("RequestItems", {}).values())
        if requests > BATCH_WRITE_LIMIT:
            raise MockValidationException("Too many items requested for the BatchWriteItem call")
        return original(handler)

    return batch_write_item


def _valid_table_names(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_table(backend: DynamoDBBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        problem = table_name_problem(name)
        if problem is not None:
            raise MockValidationException(
                f"1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: {problem}")
        return original(backend, name, *args, **kwargs)

    return create_table
