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

import copy
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


# 4. The GSI partition maps: table -> index -> partition value -> {(hash, range): None}, and per item
#    the (index, partition value) entries it is listed under.
def _value_key(value):
    return (value.type, str(value.value))


def _gsi_state(table):
    state = getattr(table, "_cg_gsi", None)
    if state is None:
        state = ({}, {})
        table._cg_gsi = state
    return state


def _reindex(table, hash_key, range_key):
    by_index, of_item = _gsi_state(table)
    key = (hash_key, range_key)
    for index_name, value in of_item.pop(key, ()):
        members = by_index.get(index_name, {}).get(value)
        if members is not None:
            members.pop(key, None)
    try:
        item = table.get_item(hash_key, range_key)
    except Exception:  # moto validates the key; an unreadable key has nothing indexed
        item = None
    if item is None:
        return
    entries = []
    for index in table.global_indexes or []:
        hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
        value = item.attrs.get(hash_attr) if hash_attr else None
        if value is None:
            continue
        vk = _value_key(value)
        by_index.setdefault(index.name, {}).setdefault(vk, {})[key] = None
        entries.append((index.name, vk))
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


def _gsi_items(table, index_name, hash_key, hash_key_conditions):
    index = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    if index is None:
        return None
    hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    value = next((v for name, v in hash_key_conditions or [] if name == hash_attr), hash_key)
    if value is None:
        return None
    members = _gsi_state(table)[0].get(index_name, {}).get(_value_key(value), {})
    found = (table.get_item(h, r) for (h, r) in list(members))
    return [i for i in found if i is not None]


def query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name:
        items = _gsi_items(self, index_name, hash_key, kwargs.get("hash_key_conditions"))
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
