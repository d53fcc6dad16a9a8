"""moto_server with two fixes to its DynamoDB cost model, so 100k-customer tables fit on the emulator.

Started by infra/lib.sh (`start_moto`) exactly like `moto_server`: the arguments are moto_server's. The
behaviour callers see (results, errors, conditions, rollback) is moto's; only the work per call changes:

1. `TransactWriteItems` deep-copied every table the transaction touches, once per item, to roll back on
   failure: O(table size x items) time and memory per call (a 100-item transaction on a table of a few
   thousand customers took seconds and gigabytes). Here the tables are not copied; the items the
   transaction addresses are snapshotted instead and put back if it fails.
2. A base-table `Query` walked every item of the table to find one partition. Here it reads that
   partition only (the rest of moto's Query, sorting, paging and filters, runs unchanged).
"""

import copy
import sys
import threading

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main


class _NoTableCopies:
    """The `copy` module as transact_write_items sees it: tables come back uncopied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        if isinstance(x, Table):
            return x
        return copy.deepcopy(x, memo)


models.copy = _NoTableCopies()
_transact_write_items = DynamoDBBackend.transact_write_items


def _addressed(backend, transact_items):
    """(table, hash, range, deep copy of the current item or None) for each item the call addresses."""
    out = []
    for entry in transact_items[:100]:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.get_table(op["TableName"])
            source = op["Item"] if op_type == "Put" else op["Key"]
            hash_key, range_key = backend.get_keys_value(table, source)
            current = table.get_item(hash_key, range_key)
            out.append((table, hash_key, range_key, copy.deepcopy(current)))
        except Exception:  # moto's own code reports malformed entries
            continue
    return out


def _restore(snapshots):
    for table, hash_key, range_key, old in reversed(snapshots):
        if table.range_key_attr is not None:
            part = table.items.get(hash_key)
            if old is None:
                if part is not None:
                    part.pop(range_key, None)
                    if not part:
                        table.items.pop(hash_key, None)
            else:
                table.items[hash_key][range_key] = old
        elif old is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = old


def transact_write_items(self, transact_items):
    snapshots = _addressed(self, transact_items)
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshots)
        raise


DynamoDBBackend.transact_write_items = transact_write_items

_partition = threading.local()
_all_items = Table.all_items
_query = Table.query


def all_items(self):
    only = getattr(_partition, "items", None)
    if only is not None and only[0] is self:
        return list(only[1])
    return _all_items(self)


def query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None or self.range_key_attr is None:
        return _query(self, hash_key, *args, **kwargs)
    part = self.items.get(hash_key)
    _partition.items = (self, list(part.values()) if part else [])
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition.items = None


Table.all_items = all_items
Table.query = query

if __name__ == "__main__":
    sys.exit(main())
