"""Seeded mutations of input files, for tests/input_fuzz.py: byte-level ones for any file (bytes changed,
truncation, ranges zeroed, duplicated, inserted or deleted, boundary integers written over a field) and
format-aware ones that get past a format's first checks (a zip member's header, a pickle opcode's argument,
a safetensors header value, a PNG chunk's length or IHDR field with its CRC fixed, a JPEG segment, an .npy
header, a JSON or TOML value).

Each mutator is a function (data, random.Random) -> (mutated data, description); `mutate` picks one (or two in
a row) for a file of a given suffix. The same seed gives the same mutation.
"""
from __future__ import annotations

import copy
import io
import json
import pickletools
import random
import re
import struct
import zipfile
import zlib
from typing import Any, Callable, Iterator

from studio_fuzz import NASTY_CONTAINERS, NASTY_NUMBERS, NASTY_TEXTS

Mutator = Callable[[bytes, random.Random], tuple[bytes, str]]


# ------------------------------------------------------------------------------------------------ byte level

def _interesting(rng: random.Random, size: int) -> bytes:
    """A boundary integer of `size` bytes (0, 1, all ones, the signed limits, a large size), either byte order."""
    bits = 8 * size
    value = rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF, (1 << bits) - 1, (1 << (bits - 1)) - 1, 1 << (bits - 1),
                        rng.randrange(1 << bits), min((1 << bits) - 1, 1 << 30), min((1 << bits) - 1, 100_000)])
    return value.to_bytes(size, rng.choice(["little", "big"]))


def flip_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to eight bytes set to random values (or one bit flipped)."""
    if not data:
        return b"\0", "empty file given one byte"
    out = bytearray(data)
    spots = sorted(rng.randrange(len(out)) for _ in range(rng.randint(1, 8)))
    for spot in spots:
        out[spot] = out[spot] ^ (1 << rng.randrange(8)) if rng.random() < 0.3 else rng.randrange(256)
    return bytes(out), f"bytes changed at {spots}"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Cut at a random point, often near the start or the end."""
    where = rng.choice([rng.randrange(len(data) + 1), rng.randrange(min(len(data), 64) + 1),
                        max(0, len(data) - rng.randint(1, 64))])
    return data[:where], f"truncated to {where} of {len(data)} bytes"


def zero_range(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A range of 1 to 4096 bytes set to zero."""
    start, length = rng.randrange(max(len(data), 1)), rng.choice([1, 4, 16, 256, 4096])
    return data[:start] + bytes(len(data[start:start + length])) + data[start + length:], \
        f"{length} bytes zeroed at {start}"


def duplicate_range(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A range copied and inserted elsewhere."""
    start, length = rng.randrange(max(len(data), 1)), rng.choice([1, 8, 64, 1024, 65536])
    chunk, where = data[start:start + length], rng.randrange(len(data) + 1)
    return data[:where] + chunk + data[where:], f"{len(chunk)} bytes from {start} repeated at {where}"


def insert_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Random bytes (or zeros) inserted."""
    where, length = rng.randrange(len(data) + 1), rng.choice([1, 3, 16, 512])
    extra = rng.randbytes(length) if rng.random() < 0.7 else bytes(length)
    return data[:where] + extra + data[where:], f"{length} bytes inserted at {where}"


def delete_range(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A range removed."""
    start, length = rng.randrange(max(len(data), 1)), rng.choice([1, 2, 7, 100, 4096])
    return data[:start] + data[start + length:], f"{length} bytes deleted at {start}"


def boundary_value(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A boundary integer of 1, 2, 4 or 8 bytes written over a field, mostly in the first 256 bytes."""
    size = rng.choice([1, 2, 4, 8])
    limit = min(len(data), 256) if rng.random() < 0.7 else len(data)
    where = rng.randrange(max(limit - size, 0) + 1)
    value = _interesting(rng, size)
    return data[:where] + value + data[where + size:], f"{size}-byte value {value.hex()} at {where}"


GENERIC: dict[str, Mutator] = {
    "flip": flip_bytes, "truncate": truncate, "zero": zero_range, "duplicate": duplicate_range,
    "insert": insert_bytes, "delete": delete_range, "boundary": boundary_value,
}


# --------------------------------------------------------------------------------------------------- pickles

def _pickle_fields(data: bytes, start: int = 0, count: int = 1) -> list[tuple[int, int, str]]:
    """(offset, size, opcode) of every opcode argument that can change in place (fixed-size arguments and the
    length fields of counted ones) in `count` pickles one after another from `start`; [] when unparseable."""
    fields = []
    view = io.BytesIO(data)
    view.seek(start)
    try:
        for _ in range(count):
            for op, _, pos in pickletools.genops(view):
                size = op.arg.n if op.arg is not None else 0
                counted = {pickletools.TAKEN_FROM_ARGUMENT1: 1, pickletools.TAKEN_FROM_ARGUMENT4: 4,
                           pickletools.TAKEN_FROM_ARGUMENT4U: 4, pickletools.TAKEN_FROM_ARGUMENT8U: 8}
                size = counted.get(size, size)
                if size > 0:
                    fields.append((pos + 1, size, op.name))
    except Exception:  # a damaged or partial stream: the fields found so far
        pass
    return fields


def _change_field(data: bytes, fields: list[tuple[int, int, str]], rng: random.Random, where: str) -> tuple[bytes, str]:
    if not fields:
        return flip_bytes(data, rng)
    offset, size, name = rng.choice(fields)
    value = _interesting(rng, size) if rng.random() < 0.8 else rng.randbytes(size)
    return data[:offset] + value + data[offset + size:], f"{where}{name} argument at {offset} set to {value.hex()}"


def pickle_argument(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A pickle opcode's argument (an integer, a memo index, a length) set to a boundary value in place."""
    return _change_field(data, _pickle_fields(data), rng, "pickle ")


# The first bytes of a legacy torch stream: a pickled LONG1 magic number (stored inside NVIDIA pickles).
_LEGACY_STREAM = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."


def inner_pickle_argument(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """An argument inside one of the legacy torch streams an NVIDIA pickle stores its tensors in (their storage
    records: sizes, keys, element counts), or the element count before a storage's data."""
    starts = [m.start() for m in re.finditer(re.escape(_LEGACY_STREAM), data)]
    if not starts:
        return pickle_argument(data, rng)
    start = rng.choice(starts)
    fields = _pickle_fields(data, start, count=5)
    if fields and rng.random() < 0.2:  # the element count that follows the five pickles
        end = max(offset + size for offset, size, _ in fields)
        stop = data.find(b".", end)
        if stop > 0:
            fields = [(stop + 1, 8, "storage element count")]
    return _change_field(data, fields, rng, "inner ")


GLOBAL_NAMES = [("os", "system"), ("builtins", "eval"), ("__builtin__", "bytearray"), ("torch", "load"),
                ("numpy", "fromfile"), ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                ("_codecs", "encode"), ("numpy.core.multiarray", "_reconstruct"), ("x", "y")]


def _global_spans(data: bytes) -> list[tuple[int | None, list[tuple[int, int]]]]:
    """For each global a pickle names in place: the offset of the frame holding it (None without framing) and
    the byte spans that name it: a GLOBAL opcode, or the strings a STACK_GLOBAL takes (those pushed right
    before it; a string fetched from the memo stays)."""
    found, recent, frame = [], [], None
    try:
        for op, arg, pos in pickletools.genops(data):
            if op.name == "FRAME":
                frame = pos
            elif op.name == "GLOBAL":
                found.append((frame, [(pos, pos + 1 + len(arg) + 1)]))
            elif op.name == "STACK_GLOBAL":
                strings = [span for span in recent[-2:] if span is not None]
                if strings and recent[-1] is not None:
                    found.append((frame, strings if len(strings) == 2 else [None, strings[0]]))
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE"):
                head = 2 if op.name == "SHORT_BINUNICODE" else 5
                recent = (recent + [(pos, pos + head + len(arg.encode("utf-8", "surrogatepass")))])[-2:]
            elif op.name not in ("MEMOIZE", "FRAME"):
                recent = (recent + [None])[-2:]
    except Exception:  # a damaged stream: the globals found so far
        pass
    return found


def pickle_global(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A global the pickle names (by GLOBAL, or by the two strings before STACK_GLOBAL) replaced by another
    one, the frame length adjusted: the allowlist must refuse or accept it."""
    spans = _global_spans(data)
    if not spans:
        return pickle_argument(data, rng)
    frame, parts = rng.choice(spans)
    module, name = rng.choice(GLOBAL_NAMES)
    if len(parts) == 1:
        replacements = [(parts[0], b"c" + module.encode() + b"\n" + name.encode() + b"\n")]
    else:
        replacements = [(span, b"\x8c" + bytes([len(text)]) + text.encode())
                        for span, text in zip(parts, (module, name)) if span is not None]
    out = bytearray(data)
    delta = 0
    for (start, stop), new in sorted(replacements, reverse=True):
        out[start:stop] = new
        delta += len(new) - (stop - start)
    if frame is not None:
        size = max(int.from_bytes(out[frame + 1:frame + 9], "little") + delta, 0)
        out[frame + 1:frame + 9] = size.to_bytes(8, "little")
    what = f"{module}.{name}" if parts[0] is not None else f"(module from the memo).{name}"
    return bytes(out), f"a global at {replacements[0][0][0]} set to {what}"


# ------------------------------------------------------------------------------------------------------- zip

def _zip_records(data: bytes) -> list[tuple[int, list[tuple[int, int, str]]]]:
    """(offset, fields) of each local header, central directory entry and end record: fields as
    (relative offset, size, name)."""
    layouts = {
        b"PK\x03\x04": [(4, 2, "version"), (6, 2, "flags"), (8, 2, "method"), (14, 4, "crc"), (18, 4, "packed size"),
                        (22, 4, "size"), (26, 2, "name length"), (28, 2, "extra length")],
        b"PK\x01\x02": [(8, 2, "flags"), (10, 2, "method"), (16, 4, "crc"), (20, 4, "packed size"), (24, 4, "size"),
                        (28, 2, "name length"), (30, 2, "extra length"), (32, 2, "comment length"),
                        (42, 4, "local offset")],
        b"PK\x05\x06": [(8, 2, "entries here"), (10, 2, "entries"), (12, 4, "directory size"),
                        (16, 4, "directory offset"), (20, 2, "comment length")],
        b"PK\x06\x06": [(24, 8, "zip64 entries"), (40, 8, "zip64 directory size"), (48, 8, "zip64 directory offset")],
    }
    return [(m.start(), layouts[m.group()]) for m in re.finditer(b"PK\x03\x04|PK\x01\x02|PK\x05\x06|PK\x06\x06", data)]


def zip_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A field of a zip member's local header, its central directory entry or the end record set to a boundary
    value (sizes, offsets, compression method, name lengths)."""
    records = _zip_records(data)
    if not records:
        return boundary_value(data, rng)
    base, fields = rng.choice(records)
    relative, size, name = rng.choice(fields)
    if base + relative + size > len(data):
        return boundary_value(data, rng)
    value = _interesting(rng, size)[::-1] if rng.random() < 0.5 else struct.pack("<Q", rng.choice(
        [0, 1, 8, 1 << 20, 1 << 31, (1 << 32) - 1]))[:size]
    offset = base + relative
    what = f"zip {data[base:base + 4]!r} {name} at {offset} set to {value.hex()}"
    return data[:offset] + value + data[offset + size:], what


def _members(data: bytes) -> list[tuple[str, int, int, int, int]]:
    """(name, local header offset, data offset, size, central entry offset) of each stored zip member."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception:
        return []
    central = {}
    for offset, _ in _zip_records(data):
        if data[offset:offset + 4] == b"PK\x01\x02":
            name_length = int.from_bytes(data[offset + 28:offset + 30], "little")
            central[data[offset + 46:offset + 46 + name_length].decode("utf-8", "replace")] = offset
    members = []
    for info in infos:
        local = info.header_offset
        start = local + 30 + int.from_bytes(data[local + 26:local + 28], "little") \
            + int.from_bytes(data[local + 28:local + 30], "little")
        if info.compress_type == zipfile.ZIP_STORED and info.filename in central:
            members.append((info.filename, local, start, info.file_size, central[info.filename]))
    return members


def _rewrite_member(data: bytes, rng: random.Random, pick: Callable[[str], bool],
                    change: Mutator) -> tuple[bytes, str] | None:
    """A stored member chosen by name changed in place by `change` (keeping its length), with its CRC fixed in
    the local header and the central directory, so that the damage gets past the zip layer."""
    members = [m for m in _members(data) if pick(m[0])]
    if not members:
        return None
    name, local, start, size, central = rng.choice(members)
    size = len(data[start:start + size])  # (a damaged header may state more than the file holds)
    body, what = change(data[start:start + size], rng)
    body = (body + bytes(size))[:size]
    crc = struct.pack("<I", zlib.crc32(body))
    out = bytearray(data)
    out[start:start + size] = body
    out[local + 14:local + 18] = crc
    out[central + 16:central + 20] = crc
    return bytes(out), f"member {name}: {what} (CRC fixed)"


def torch_pickle(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """An opcode argument of a torch zip's object tree (data.pkl) changed in place, CRC fixed."""
    return _rewrite_member(data, rng, lambda name: name.endswith("data.pkl"), pickle_argument) or \
        pickle_argument(data, rng)


# --------------------------------------------------------------------------------------------------- numpy

NPY_SHAPES = ["()", "(0,)", "(-1,)", "(1000000000, 1000000000)", "(4611686018427387904,)", "(1, 2, 3, 4, 5)",
              "(480,)", "(3.5,)", "None", "(1, 10, 48, 1)", "'x'"]
NPY_TYPES = ["'<f8'", "'<f2'", "'|u1'", "'>f4'", "'<c8'", "'|O'", "'<U4'", "'|V4'", "'|b1'", "'<i8'", "'x'",
             "'<M8[s]'", "[('a', '<f4')]", "'<f4'"]


def npy_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """The shape, dtype, order or version of an .npy header changed, the header length kept consistent."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        return boundary_value(data, rng)
    length = int.from_bytes(data[8:10], "little") if data[6] == 1 else int.from_bytes(data[8:12], "little")
    start = 10 if data[6] == 1 else 12
    header = data[start:start + length].decode("latin-1")
    choice = rng.randrange(4)
    if choice == 0:
        new, what = re.sub(r"'shape': \([^)]*\)", "'shape': " + (value := rng.choice(NPY_SHAPES)), header), value
    elif choice == 1:
        new, what = re.sub(r"'descr': '[^']*'", "'descr': " + (value := rng.choice(NPY_TYPES)), header), value
    elif choice == 2:
        new, what = header.replace("False", "True"), "fortran_order True"
    else:
        version = rng.choice([b"\x02\x00", b"\x03\x00", b"\x09\x09", b"\x00\x00"])
        return data[:6] + version + data[8:], f"npy version {version.hex()}"
    body = new.rstrip()
    body += " " * (-(start + len(body) + 1) % 64) + "\n"
    size = len(body).to_bytes(start - 8, "little")
    return data[:8] + size + body.encode("latin-1") + data[start + length:], f"npy header: {what}"


def npz_member(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """An .npy header inside an .npz changed, the archive rebuilt around it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
    except Exception:
        return zip_header(data, rng)
    if not members:
        return zip_header(data, rng)
    name = rng.choice(sorted(members))
    members[name], what = npy_header(members[name], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return out.getvalue(), f"member {name}: {what}"


# -------------------------------------------------------------------------------------------------- JSON, TOML

def _nodes(value: Any, trail: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield trail, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _nodes(child, trail + (key,))


def _nasty(rng: random.Random, like: Any) -> Any:
    """An odd JSON value, half the time of the same kind as `like`."""
    if rng.random() < 0.5:
        if isinstance(like, bool):
            return rng.choice([not like, 0, 1, "true", None])
        if isinstance(like, (int, float)):
            return rng.choice(NASTY_NUMBERS)
        if isinstance(like, str):
            return rng.choice(NASTY_TEXTS)
    return copy.deepcopy(rng.choice(rng.choice([NASTY_NUMBERS, NASTY_TEXTS, NASTY_CONTAINERS])))


def mutate_value(value: Any, rng: random.Random) -> tuple[Any, str]:
    """A JSON value with one node replaced by an odd value, a key dropped or added, or a list grown."""
    value = copy.deepcopy(value)
    trail, node = rng.choice(list(_nodes(value)))
    action = rng.random()
    if action < 0.15 and isinstance(node, dict) and node:
        key = rng.choice(sorted(node))
        del node[key]
        return value, f"key {trail + (key,)} dropped"
    if action < 0.25 and isinstance(node, dict):
        node["unknown"] = _nasty(rng, None)
        return value, f"key {trail + ('unknown',)} added"
    if action < 0.3 and isinstance(node, list):
        node.extend([copy.deepcopy(node[0]) if node else None] * rng.choice([1, 50]))
        return value, f"list {trail} grown"
    new = _nasty(rng, node)
    if not trail:
        return new, f"replaced by {new!r:.60}"
    parent = value
    for key in trail[:-1]:
        parent = parent[key]
    parent[trail[-1]] = new
    return value, f"{trail} set to {new!r:.60}"


def json_value(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A value of a JSON document changed (see `mutate_value`); NaN and Infinity are written as Python does."""
    try:
        document = json.loads(data)
    except ValueError:
        return flip_bytes(data, rng)
    document, what = mutate_value(document, rng)
    return json.dumps(document).encode(), f"JSON {what}"


TOML_VALUES = ["nan", "inf", "-inf", "-1", "0", "1e308", "99999999999999999999", '""', '"x"', "[]", "{}", "true",
               "[1, 2]", '"' + "a" * 3000 + '"', '"../../x.npz"', '"/dev/zero"', '"~nosuchuser/x"', "1.5",
               '"99-0"', '"coarse"', "[0.0, 0.0, 0.0, 0.0]", "[1, 1, 0, 0]", "100000", "-0.0", '"é²"', "1979-05-27"]


def toml_value(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A TOML line changed: a value replaced by an odd one, a line removed or repeated, a key added, or an
    array of tables turned into a table."""
    lines = data.decode("utf-8", "replace").splitlines()
    values = [i for i, line in enumerate(lines) if re.match(r"\s*[\w\"]+\s*=", line)]
    choice = rng.randrange(6)
    if values and choice < 3:
        i = rng.choice(values)
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}= {rng.choice(TOML_VALUES)}"
        what = f"line {i + 1} set to {lines[i]!r:.60}"
    elif lines and choice == 3:
        i = rng.randrange(len(lines))
        what = f"line {i + 1} ({lines.pop(i)!r:.40}) removed"
    elif lines and choice == 4:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        what = f"line {i + 1} repeated"
    else:
        i = rng.randrange(len(lines) + 1)
        lines.insert(i, rng.choice(["type = \"generate\"", "unknown = 1", "[[steps]]", "[steps]", "[networks]",
                                    "steps = []", "psi = nan"]))
        what = f"line {lines[i]!r} inserted at {i + 1}"
    return ("\n".join(lines) + "\n").encode(), f"TOML {what}"


# ------------------------------------------------------------------------------------------------ safetensors

def safetensors_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A safetensors header changed: its length field, a tensor's dtype, shape or data offsets, or a value of
    the network records in its metadata (the architecture's config); the header re-encoded around it."""
    if len(data) < 8:
        return boundary_value(data, rng)
    length = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8:8 + length])
    except ValueError:
        return boundary_value(data, rng)
    if rng.random() < 0.15:
        value = _interesting(rng, 8)
        return value + data[8:], f"safetensors header length set to {value.hex()}"
    meta = header.get("__metadata__") or {}
    records_key = next((k for k, v in meta.items() if v.startswith("{")), None)
    if records_key is not None and rng.random() < 0.5:
        records, what = mutate_value(json.loads(meta[records_key]), rng)
        meta[records_key] = json.dumps(records)
        what = f"metadata {what}"
    else:
        name = rng.choice(sorted(k for k in header if k != "__metadata__"))
        field = rng.choice(["dtype", "shape", "data_offsets"])
        end = header[name]["data_offsets"][1]
        header[name][field] = rng.choice({
            "dtype": ["F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "X", 4],
            "shape": [[], [0], [-1], [1 << 40], [2, 2, 2, 2, 2, 2, 2, 2], [1000], [1.5], "x"],
            "data_offsets": [[0, 0], [end, 0], [0, 1 << 50], [-1, end], [0, end], [end, end + 4], [0]],
        }[field])
        what = f"tensor {name} {field} set to {header[name][field]!r}"
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + length:], f"safetensors {what}"


# ---------------------------------------------------------------------------------------------------- images

def _png_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, data length, type) of each chunk of a PNG, as far as its lengths hold within the file."""
    chunks, offset = [], 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        if offset + 12 + length > len(data):
            break
        chunks.append((offset, length, data[offset + 4:offset + 8]))
        offset += 12 + length
    return chunks


def png_chunk(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A PNG chunk's length set to a boundary value, an IHDR field changed (CRC fixed), a chunk dropped or
    repeated, or an IDAT chunk's data changed with its CRC fixed (so only the decoder can tell)."""
    chunks = _png_chunks(data)
    if not chunks:
        return boundary_value(data, rng)
    offset, length, kind = rng.choice(chunks)
    choice = rng.randrange(5)
    if choice == 0:
        value = _interesting(rng, 4)
        return data[:offset] + value + data[offset + 4:], f"PNG {kind!r} length set to {value.hex()}"
    if choice == 1 and chunks[0][2] == b"IHDR":
        offset, length, kind = chunks[0]
        field, size = rng.choice([(0, 4), (4, 4), (8, 1), (9, 1), (10, 1), (11, 1), (12, 1)])
        body = bytearray(data[offset + 8:offset + 8 + length])
        body[field:field + size] = _interesting(rng, size) if rng.random() < 0.7 else bytes([rng.choice([1, 3, 7])])
        what = f"IHDR byte {field} set to {bytes(body[field:field + size]).hex()}"
    elif choice == 2:
        return data[:offset] + data[offset + 12 + length:], f"PNG {kind!r} chunk at {offset} dropped"
    elif choice == 3:
        chunk = data[offset:offset + 12 + length]
        return data[:offset] + chunk + data[offset:], f"PNG {kind!r} chunk at {offset} repeated"
    else:
        idats = [c for c in chunks if c[2] == b"IDAT"] or chunks
        offset, length, kind = rng.choice(idats)
        body, what = flip_bytes(data[offset + 8:offset + 8 + length], rng)
        body = (body + bytes(length))[:length]
        what = f"{kind!r} data {what}"
    crc = struct.pack(">I", zlib.crc32(kind + bytes(body)))
    return data[:offset + 8] + bytes(body) + crc + data[offset + 12 + length:], f"PNG {what} (CRC fixed)"


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset, marker) of each marker segment before the scan data."""
    segments, offset = [], 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        segments.append((offset, marker))
        if marker == 0xDA:
            break
        offset += 2 + int.from_bytes(data[offset + 2:offset + 4], "big")
    return segments


def jpeg_segment(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A JPEG segment's length set to a boundary value, a frame header field (precision, height, width,
    components) changed, or a segment dropped or repeated."""
    segments = _jpeg_segments(data)
    if not segments:
        return boundary_value(data, rng)
    offset, marker = rng.choice(segments)
    choice = rng.randrange(4)
    frames = [s for s in segments if s[1] in (0xC0, 0xC1, 0xC2)]
    if choice == 1 and frames:
        offset, marker = frames[0]
        field, size = rng.choice([(4, 1), (5, 2), (7, 2), (9, 1), (10, 1), (11, 1)])
        value = _interesting(rng, size)
        spot = offset + field
        return data[:spot] + value + data[spot + size:], f"JPEG SOF{marker - 0xC0} byte {field} set to {value.hex()}"
    length = int.from_bytes(data[offset + 2:offset + 4], "big")
    if choice == 2 and marker != 0xDA:
        return data[:offset] + data[offset + 2 + length:], f"JPEG segment {marker:02X} dropped"
    if choice == 3 and marker != 0xDA:
        segment = data[offset:offset + 2 + length]
        return data[:offset] + segment + data[offset:], f"JPEG segment {marker:02X} repeated"
    value = _interesting(rng, 2)
    return data[:offset + 2] + value + data[offset + 4:], f"JPEG segment {marker:02X} length set to {value.hex()}"


# ------------------------------------------------------------------------------------------------ by suffix

FORMAT_AWARE: dict[str, list[Mutator]] = {
    ".pkl": [pickle_argument, inner_pickle_argument, pickle_global],
    ".pt": [zip_header, torch_pickle, pickle_argument],
    ".pth": [zip_header, torch_pickle],
    ".safetensors": [safetensors_header],
    ".npz": [zip_header, npz_member],
    ".npy": [npy_header],
    ".json": [json_value],
    ".toml": [toml_value],
    ".png": [png_chunk],
    ".jpg": [jpeg_segment],
}


MAX_GROWTH = 1 << 20  # bytes a mutant may add to its file


def mutate(data: bytes, suffix: str, rng: random.Random) -> tuple[bytes, str]:
    """`data` (a file ending in `suffix`) changed by one mutator, format-aware ones half the time where the
    format has them; one time in five a second mutation follows. A mutant is never more than MAX_GROWTH bytes
    longer than the file."""
    limit = len(data) + MAX_GROWTH
    steps = []
    for _ in range(2 if rng.random() < 0.2 else 1):
        aware = FORMAT_AWARE.get(suffix, [])
        if aware and rng.random() < 0.5:
            mutator = rng.choice(aware)
        else:
            mutator = GENERIC[rng.choice(sorted(GENERIC))]
        data, what = mutator(data, rng)
        steps.append(f"{mutator.__name__}: {what}")
    if len(data) > limit:
        raise RuntimeError(f"a fuzzer bug: a mutant grew by {len(data) - limit + MAX_GROWTH} bytes: {'; '.join(steps)}")
    return data, "; ".join(steps)
