# Reads a script's inputs from its source without running it: the source on stdin is parsed
# with `ast` and never compiled to bytecode, imported or executed. Prints one JSON object:
#   {"style": "none" | "argparse" | "main", "inputs": [Input…], "notices": [{"line", "message"}…]}
# Input: {"name", "kind": "text"|"integer"|"number"|"boolean"|"date"|"date_time"|"path",
#         "list", "choices", "default", "required", "nullable", "description", "secret",
#         "argv": null | {"flag": null | "--name", "action": "store"|"store_true"|"store_false"|"append",
#                         "nargs": null | "?" | "*" | "+" | n}}
# Anything it cannot understand is named in a notice, never dropped silently.
import ast
import json
import re
import sys

SECRET_NAME = re.compile(r"(password|token|secret)$", re.IGNORECASE)
SIMPLE = {"str": "text", "int": "integer", "float": "number", "bool": "boolean"}
# Names an annotation or `type=` may use for a kind, as written (`datetime.date`, `date`, …).
DATED = {"date": "date", "datetime": "date_time"}
PATHS = {"Path", "PurePath", "PosixPath"}

notices = []


def notice(node, message):
    notices.append({"line": getattr(node, "lineno", 1), "message": message})


def dotted(node):
    """`a.b.c` of a Name/Attribute chain, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def literal(node):
    """(True, value) for a literal the form can show, else (False, None)."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False, None
    return True, value


def kind_of_type(node):
    """The kind an argparse `type=` or a simple annotation names, or None."""
    name = dotted(node)
    if name is None:
        return None
    last = name.rsplit(".", 1)[-1]
    if name in SIMPLE:
        return SIMPLE[name]
    if last in PATHS and (name == last or name.startswith("pathlib.")):
        return "path"
    if name in ("datetime.date", "date", "datetime.datetime", "datetime"):
        # `datetime` alone is the class when imported `from datetime import datetime`, and the
        # module otherwise; only the class makes sense as a type.
        return DATED[last]
    return None


def blank(name, line):
    return {"name": name, "kind": "text", "list": False, "choices": None, "default": None,
            "required": False, "nullable": False, "description": None,
            "secret": bool(SECRET_NAME.search(name)), "argv": None, "line": line}


# ---------------------------------------------------------------- argparse

def parsers_and_groups(tree):
    """Names bound to `ArgumentParser(...)`, its groups, and `add_parser` (unsupported) calls."""
    creators = {"argparse.ArgumentParser", "ArgumentParser"}
    names = set()
    changed = True
    # Groups are made from parsers, possibly later in the file: a few passes reach a fixpoint.
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                call = node.value
                func = dotted(call.func)
                made = func in creators or (
                    isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("add_argument_group", "add_mutually_exclusive_group")
                    and dotted(call.func.value) in names)
                if made:
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id not in names:
                            names.add(target.id)
                            changed = True
    return names


def option_dest(flags):
    long = [f for f in flags if f.startswith("--")]
    chosen = long[0] if long else flags[0]
    return chosen.lstrip("-").replace("-", "_"), chosen


def from_add_argument(call):
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        notice(call, "an `add_argument` call with `*args` or `**kwargs` cannot be read; it is not in the form")
        return None
    flags = []
    for arg in call.args:
        ok, value = literal(arg)
        if not ok or not isinstance(value, str):
            notice(call, "an `add_argument` call whose names are computed cannot be read; it is not in the form")
            return None
        flags.append(value)
    if not flags:
        return None
    keywords = {k.arg: k.value for k in call.keywords}
    positional = not flags[0].startswith("-")
    if positional:
        name, flag = flags[0], None
    else:
        name, flag = option_dest(flags)
    label = flag or name
    if "dest" in keywords:
        ok, value = literal(keywords["dest"])
        if ok and isinstance(value, str):
            name = value
        else:
            notice(call, f"`{label}`: a computed `dest` cannot be read; it is not in the form")
            return None

    action = "store"
    if "action" in keywords:
        ok, value = literal(keywords["action"])
        if not ok:
            notice(call, f"`{label}`: a computed or custom `action` cannot be read; it is not in the form")
            return None
        if value in ("help", "version"):
            return None
        if value not in ("store", "store_true", "store_false", "append"):
            notice(call, f"`{label}`: action={value!r} is not supported (store, store_true, store_false, append are); it is not in the form")
            return None
        action = value

    item = blank(name, call.lineno)
    item["argv"] = {"flag": flag, "action": action, "nargs": None}
    if action in ("store_true", "store_false"):
        item["kind"] = "boolean"
        item["default"] = action == "store_false"
    if "type" in keywords:
        kind = kind_of_type(keywords["type"])
        if kind is None or kind == "boolean":
            notice(call, f"`{label}`: type={ast.unparse(keywords['type'])} is not one the form knows (int, float, str, pathlib.Path, datetime.date); it is taken as text")
        else:
            item["kind"] = kind
    if "nargs" in keywords:
        ok, value = literal(keywords["nargs"])
        if ok and (value in ("?", "*", "+") or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)):
            item["argv"]["nargs"] = value
            if value != "?":
                item["list"] = True
        else:
            notice(call, f"`{label}`: nargs={ast.unparse(keywords['nargs'])} is not supported (?, *, + or a number are); it is not in the form")
            return None
    if action == "append":
        item["list"] = True
    if "choices" in keywords:
        ok, value = literal(keywords["choices"])
        if ok and isinstance(value, list) and value:
            item["choices"] = value
        else:
            notice(call, f"`{label}`: its choices are computed; the form takes any value and the script checks it")
    if "default" in keywords:
        ok, value = literal(keywords["default"])
        if ok:
            item["default"] = value
        else:
            notice(call, f"`{label}`: its default is computed; the form shows none and the script applies it")
    if "help" in keywords:
        ok, value = literal(keywords["help"])
        if ok and isinstance(value, str):
            item["description"] = value.replace("%(default)s", str(item["default"])).replace("%%", "%")
    if positional:
        nargs = item["argv"]["nargs"]
        item["required"] = nargs not in ("?", "*")
    elif "required" in keywords:
        ok, value = literal(keywords["required"])
        if ok and isinstance(value, bool):
            item["required"] = value
        else:
            notice(call, f"`{label}`: a computed `required` cannot be read; taken as optional")
    item["nullable"] = not item["required"] and item["default"] is None and item["kind"] != "boolean"
    return item


def argparse_inputs(tree):
    holders = parsers_and_groups(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = dotted(node.func.value)
        if node.func.attr == "add_subparsers" and owner in holders:
            notice(node, "subcommands (`add_subparsers`) are not supported; only the main parser's arguments are in the form")
        elif node.func.attr == "add_argument" and owner in holders:
            item = from_add_argument(node)
            if item is not None:
                found.append(item)
    found.sort(key=lambda item: item["line"])
    return found


# ---------------------------------------------------------------- main()

def docstring_args(function):
    """Descriptions from a Google-style `Args:` section."""
    doc = ast.get_docstring(function) or ""
    described, current, inside, indent = {}, None, False, None
    for raw in doc.splitlines():
        stripped = raw.strip()
        if not inside:
            inside = stripped in ("Args:", "Arguments:", "Parameters:")
            continue
        if not stripped:
            current = None
            continue
        width = len(raw) - len(raw.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break
        match = re.match(r"^\*{0,2}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", stripped)
        if width == indent and match:
            current = match.group(1)
            described[current] = match.group(3)
        elif current is not None:
            described[current] = (described[current] + " " + stripped).strip()
    return described


def unwrap_optional(node):
    """(inner, True) for `X | None` and `Optional[X]`; (node, False) otherwise."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        nones = [s for s in sides if isinstance(s, ast.Constant) and s.value is None]
        if len(nones) == 1:
            return [s for s in sides if s is not nones[0]][0], True
    if isinstance(node, ast.Subscript) and dotted(node.value) in ("Optional", "typing.Optional"):
        return node.slice, True
    return node, False


def apply_annotation(item, node):
    """Sets the item's kind from an annotation; else says what the form does not know of it."""
    label = f"`main({item['name']})`"
    node, nullable = unwrap_optional(node)
    item["nullable"] = nullable
    name = dotted(node)
    if name is not None and name.rsplit(".", 1)[-1] == "Secret":
        item["secret"] = True
        return None
    if isinstance(node, ast.Subscript):
        outer = dotted(node.value)
        if outer in ("Literal", "typing.Literal"):
            values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            choices = []
            for value in values:
                ok, got = literal(value)
                if not ok or isinstance(got, (list, dict)) or got is None:
                    return f"{label}: a Literal value that is not a plain string, number or boolean is not supported"
                choices.append(got)
            kinds = {type(c) for c in choices}
            by_kinds = {frozenset({str}): "text", frozenset({int}): "integer", frozenset({bool}): "boolean",
                        frozenset({float}): "number", frozenset({int, float}): "number"}
            if frozenset(kinds) not in by_kinds:
                return f"{label}: a Literal mixing strings, numbers and booleans is not supported"
            item["kind"], item["choices"] = by_kinds[frozenset(kinds)], choices
            return None
        if outer in ("list", "List", "typing.List"):
            inner = kind_of_type(node.slice)
            if inner in (None, "boolean"):
                notice(node, f"{label}: {ast.unparse(node)} is not supported (a list of str, int, float, date or Path is); taken as a list of text")
                inner = "text"
            item["kind"], item["list"] = inner, True
            return None
    kind = kind_of_type(node)
    if kind is None:
        return f"{label}: the annotation `{ast.unparse(node)}` is not one the form knows (str, int, float, bool, Literal[...], list[str], datetime.date, datetime.datetime, X | None)"
    item["kind"] = kind
    return None


def main_inputs(function):
    found = []
    described = docstring_args(function)
    arguments = function.args
    for star, stars in ((arguments.vararg, "*"), (arguments.kwarg, "**")):
        if star is not None:
            notice(star, f"`main({stars}{star.arg})`: `*args` and `**kwargs` get nothing from the form")
    for positional in getattr(arguments, "posonlyargs", []):
        notice(function, f"`main({positional.arg})` is positional-only; it cannot be given by name, so it is not in the form")
    plain = arguments.args
    plain_defaults = [None] * (len(plain) - len(arguments.defaults)) + list(arguments.defaults)
    pairs = list(zip(plain, plain_defaults)) + list(zip(arguments.kwonlyargs, arguments.kw_defaults))
    for parameter, default in pairs:
        item = blank(parameter.arg, parameter.lineno)
        item["description"] = described.get(parameter.arg)
        if default is not None:
            ok, value = literal(default)
            if ok:
                item["default"] = value
            else:
                notice(default, f"`main({parameter.arg})`: its default is computed; the form shows none and `main()` applies it")
        if parameter.annotation is not None:
            unknown = apply_annotation(item, parameter.annotation)
            if unknown is not None and default is not None:
                notice(parameter, unknown + "; it is left out of the form and `main()` applies its default")
                continue
            if unknown is not None:
                notice(parameter, unknown + "; taken as text")
        elif default is not None and item["default"] is not None:
            guessed = {bool: "boolean", int: "integer", float: "number", str: "text"}.get(type(item["default"]))
            if guessed is None:
                notice(parameter, f"`main({parameter.arg})` has no annotation; taken as text")
            else:
                item["kind"] = guessed
        else:
            notice(parameter, f"`main({parameter.arg})` has no annotation; taken as text")
        item["required"] = default is None
        if default is not None and isinstance(default, ast.Constant) and default.value is None:
            item["nullable"] = True
        found.append(item)
    return found


def derive(source):
    try:
        tree = ast.parse(source, "<script>")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        notice(err if isinstance(err, SyntaxError) else None, f"the script does not parse, so its inputs are unknown: {err}")
        return "none", []
    mains = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "main"]
    arguments = argparse_inputs(tree)
    main = mains[-1] if mains else None
    main_takes = main is not None and (main.args.args or main.args.kwonlyargs or main.args.posonlyargs
                                       or main.args.vararg or main.args.kwarg)
    if arguments or parsers_and_groups(tree):
        if main_takes:
            notice(main, "the script reads its arguments with argparse, so `main()`'s parameters are not inputs")
        return "argparse", arguments
    if main_takes:
        if isinstance(main, ast.AsyncFunctionDef):
            notice(main, "`async def main()` is not supported; the script runs as it is, with no inputs")
            return "none", []
        return "main", main_inputs(main)
    return "none", []


def fitting(item, value):
    """`value` as a value of the item's kind (argparse converts a string default with `type=`),
    or None when it is not one."""
    kind = item["kind"]
    if kind == "integer":
        if isinstance(value, str) and item["argv"] is not None:
            try:
                return int(value)
            except ValueError:
                return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        if isinstance(value, str) and item["argv"] is not None:
            try:
                value = float(value)
            except ValueError:
                return None
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    # text, path, date, date_time: given as strings (a date as ISO 8601, checked by the server)
    return value if isinstance(value, str) else None


def checked_default(item):
    value = item["default"]
    if value is None:
        return
    if item["list"]:
        values = value if isinstance(value, list) else None
        fitted = None if values is None else [fitting(item, v) for v in values]
        ok = fitted is not None and all(f is not None for f in fitted)
        item["default"] = fitted if ok else None
    else:
        fitted = fitting(item, value)
        ok = fitted is not None and (item["choices"] is None or fitted in item["choices"])
        item["default"] = fitted if ok else None
    if not ok:
        notices.append({"line": item["line"], "message": f"`{item['name']}`: its default {value!r} does not fit the input; the form shows none"})
        if item["argv"] is not None and not item["required"]:
            item["nullable"] = item["kind"] != "boolean"


def run():
    source = sys.stdin.buffer.read()
    style, found = derive(source)
    by_name = {}
    for item in found:
        checked_default(item)
        if item["name"] in by_name:
            notices.append({"line": item["line"], "message": f"two inputs are named `{item['name']}`; the form has the last one"})
        by_name[item["name"]] = item
    inputs = list(by_name.values())
    for item in inputs:
        item.pop("line", None)
    notices.sort(key=lambda n: n["line"])
    json.dump({"style": style, "inputs": inputs, "notices": notices}, sys.stdout)


run()
