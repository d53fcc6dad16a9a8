"""moto_server with DynamoDB's promises kept under concurrency and its cost model fixed, so the local
stack behaves like DynamoDB for many parallel clients and 100k-customer tables fit.

Started by infra/lib.sh (`start_moto`) exactly like `moto_server`: the arguments are moto_server's. The
results callers see (items, errors, conditions, rollback) are moto's; what changes:

1. Atomicity. moto's threaded server runs requests concurrently on shared dicts: `TransactWriteItems`
   and conditional writes interleave (lost and doubled updates, "dictionary changed size during
   iteration" 500s). DynamoDB serialises conflicting writes, so here every DynamoDB request runs under
   one lock: each request sees and leaves a consistent table, as a transaction or condition promises.
2. `TransactWriteItems` deep-copied every table the transaction touches, once per item, to roll back on
   failure: O(table size x items) per call. Here only the items the transaction addresses are
   snapshotted and put back if it fails (safe: no other request runs meanwhile, point 1).
3. A base-table `Query` walked every item of the table to find one partition. Here it reads that
   partition only (moto's sorting, paging and filters run unchanged).
4. A global-secondary-index `Query` walked every item of the table too (a wake-up tick cost seconds at
   a few thousand customers). Here each GSI keeps a map from its partition key value to the items that
   carry it, maintained on every put, delete, update and rollback, and a Query reads only those items.
5. Streams (issue 16). moto applies a transaction's writes one by one and appends a stream record for
   each; a transaction cancelled by a later item's condition is rolled back in the table but its
   records stayed in the stream, announcing writes that never happened. Here a cancelled transaction
   also takes its records back out of the stream, and stream reads take the same lock, so a reader never
   sees a record of a transaction that is still running.
"""

import bisect
import copy
import decimal
import sys
import threading

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

# 1. One DynamoDB request at a time.
_LOCK = threading.RLock()
_call_action = DynamoHandler.call_action


def call_action(self):
    with _LOCK:
        return _call_action(self)


DynamoHandler.call_action = call_action


# 4. The GSI partition maps: table -> index -> partition value -> a list of (sort key, (hash, range))
#    kept sorted, and per item the entries it is listed under. A Query then reads only the items in its
#    key range (bisect), as DynamoDB's sorted index does.
def _value_key(value):
    return (value.type, str(value.value))


def _sort_key(value):
    """An orderable form of a sort-key value: numbers by value, strings and binaries by their text."""
    if value is None:
        return ("", "")
    if value.type == "N":
        try:
            return ("N", decimal.Decimal(str(value.value)))
        except Exception:
            return ("N", decimal.Decimal(0))
    return (value.type, str(value.value))


def _gsi_state(table):
    state = getattr(table, "_cg_gsi", None)
    if state is None:
        state = ({}, {})
        table._cg_gsi = state
    return state


def _attr(index, kind):
    return next((k["AttributeName"] for k in index.schema if k["KeyType"] == kind), None)


_SEQ = [0]


def _reindex(table, hash_key, range_key):
    by_index, of_item = _gsi_state(table)
    key = (hash_key, range_key)
    for index_name, value, entry in of_item.pop(key, ()):
        members = by_index.get(index_name, {}).get(value)
        if members is not None:
            i = bisect.bisect_left(members, entry)
            if i < len(members) and members[i] == entry:
                members.pop(i)
    try:
        item = table.get_item(hash_key, range_key)
    except Exception:  # moto validates the key; an unreadable key has nothing indexed
        item = None
    if item is None:
        return
    entries = []
    for index in table.global_indexes or []:
        hash_attr = _attr(index, "HASH")
        value = item.attrs.get(hash_attr) if hash_attr else None
        if value is None:
            continue
        range_attr = _attr(index, "RANGE")
        sort = _sort_key(item.attrs.get(range_attr)) if range_attr else ("", "")
        vk = _value_key(value)
        # (sort key, sequence number, item key): the sequence number is unique, so comparisons never
        # reach the item key's moto types.
        _SEQ[0] += 1
        entry = (sort, _SEQ[0], key)
        bisect.insort(by_index.setdefault(index.name, {}).setdefault(vk, []), entry)
        entries.append((index.name, vk, entry))
    if entries:
        of_item[key] = entries


_put_item = Table.put_item
_delete_item = Table.delete_item


def put_item(self, item_attrs, *args, **kwargs):
    item = _put_item(self, item_attrs, *args, **kwargs)
    _reindex(self, item.hash_key, item.range_key)
    return item


def delete_item(self, hash_key, range_key):
    item = _delete_item(self, hash_key, range_key)
    _reindex(self, hash_key, range_key)
    return item


Table.put_item = put_item
Table.delete_item = delete_item

_update_item = DynamoDBBackend.update_item


def update_item(self, table_name, key, *args, **kwargs):
    result = _update_item(self, table_name, key, *args, **kwargs)
    table = self.get_table(table_name)
    hash_key, range_key = self.get_keys_value(table, key)
    _reindex(table, hash_key, range_key)
    return result


DynamoDBBackend.update_item = update_item


# 2. Transactions snapshot only the items they address.
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
                table.items.setdefault(hash_key, {})[range_key] = old
        elif old is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = old
        _reindex(table, hash_key, range_key)


def _stream_lengths(snapshots):
    """The stream length of each table the transaction addresses (5: to take its records back)."""
    out = {}
    for table, _, _, _ in snapshots:
        shard = getattr(table, "stream_shard", None)
        if shard is not None and id(table) not in out:
            out[id(table)] = (shard, len(shard.items))
    return out


def transact_write_items(self, transact_items):
    snapshots = _addressed(self, transact_items)
    streams = _stream_lengths(snapshots)
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshots)
        for shard, length in streams.values():
            del shard.items[length:]
        raise


DynamoDBBackend.transact_write_items = transact_write_items

# 3 and 4. A Query reads only its partition (of the table, or of a GSI through its map).
_partition = threading.local()
_all_items = Table.all_items
_query = Table.query


def all_items(self):
    only = getattr(_partition, "items", None)
    if only is not None and only[0] is self:
        return list(only[1])
    return _all_items(self)


def _bounds(members, comparison, operands):
    """The slice of a sorted GSI partition a sort-key condition can match (moto checks it again)."""
    if not comparison or not operands:
        return 0, len(members)
    lo_key = _sort_key(operands[0])
    lowest, highest = (lo_key, -1), (lo_key, float("inf"))
    if comparison in ("<", "LT"):
        return 0, bisect.bisect_left(members, lowest)
    if comparison in ("<=", "LE"):
        return 0, bisect.bisect_right(members, highest)
    if comparison in (">", "GT"):
        return bisect.bisect_right(members, highest), len(members)
    if comparison in (">=", "GE"):
        return bisect.bisect_left(members, lowest), len(members)
    if comparison in ("=", "EQ"):
        return bisect.bisect_left(members, lowest), bisect.bisect_right(members, highest)
    if comparison == "BETWEEN" and len(operands) > 1:
        hi_key = _sort_key(operands[1])
        return bisect.bisect_left(members, lowest), bisect.bisect_right(members, (hi_key, float("inf")))
    return 0, len(members)


def _gsi_items(table, index_name, hash_key, hash_key_conditions, range_comparison, range_objs):
    index = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    if index is None:
        return None
    hash_attr = _attr(index, "HASH")
    value = next((v for name, v in hash_key_conditions or [] if name == hash_attr), hash_key)
    if value is None:
        return None
    members = _gsi_state(table)[0].get(index_name, {}).get(_value_key(value), [])
    lo, hi = _bounds(members, range_comparison, range_objs) if _attr(index, "RANGE") else (0, len(members))
    found = (table.get_item(h, r) for _, _, (h, r) in members[lo:hi])
    return [i for i in found if i is not None]


def query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name:
        range_comparison = args[0] if args else kwargs.get("range_comparison")
        range_objs = args[1] if len(args) > 1 else kwargs.get("range_objs")
        items = _gsi_items(self, index_name, hash_key, kwargs.get("hash_key_conditions"), range_comparison, range_objs)
    elif hash_key is not None and self.range_key_attr is not None:
        part = self.items.get(hash_key)
        items = list(part.values()) if part else []
    else:
        items = None
    if items is None:
        return _query(self, hash_key, *args, **kwargs)
    _partition.items = (self, items)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition.items = None


Table.all_items = all_items
Table.query = query

# 5. Stream reads under the DynamoDB lock.
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler  # noqa: E402

_streams_call_action = DynamoDBStreamsHandler.call_action


def streams_call_action(self):
    with _LOCK:
        return _streams_call_action(self)


DynamoDBStreamsHandler.call_action = streams_call_action

if __name__ == "__main__":
    sys.exit(main())
