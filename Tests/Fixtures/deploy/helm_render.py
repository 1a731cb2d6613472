#!/usr/bin/env python3
"""A small renderer for Vigil's Helm chart, used only by Tests/DeployTests.

No Helm binary can be installed on the build machines (it is neither a Debian nor a PyPI
package there), so the tests render deploy/helm/vigil with this instead. It implements the
part of Go's text/template and Helm that the chart uses, the way Helm does it, and refuses
everything else with an error naming the construct, so a template that uses something it
does not know fails the tests instead of rendering wrongly.

Supported:
  actions with trim markers ({{- ... -}}), comments ({{/* */}}), string, number, bool and nil
  literals, fields (.Values.a.b, $.Values, $var.field), parenthesised pipelines, `|` pipelines;
  if / else if / else / end, range (over lists and maps, with `$k, $v :=` or `$v :=`, and
  else), with (and else), define, include;
  functions: and, or, not, eq, ne, empty, default, quote, toString, toYaml, indent, nindent,
  printf (%s %v %d %q %%), hasPrefix, trimPrefix, fail;
  the objects .Values, .Release (Name, Namespace, Service, IsInstall, IsUpgrade) and .Chart
  (Name, Version, AppVersion, Description, Type);
  values merged from values.yaml, -f files and --set-json key.path=JSON (maps merge, others replace);
  templates/_*.tpl and NOTES.txt not rendered, empty output files dropped, as Helm does;
  values checked against values.schema.json (JSON Schema draft 7, with the jsonschema package).
  Numbers print the way Helm prints its float64 values (1e+06, not 1000000).

Not supported (an error if used): template, block, tpl, lookup, required, .Files, .Capabilities,
.Template, variable assignment outside range, break/continue, every other Sprig function,
subcharts and dependencies. Not emulated: hooks, install order (objects come in file order).

Usage:
  helm_render.py CHART [--release NAME] [--namespace NS] [-f VALUES]... [--set-json KEY=JSON]...
      [--json]
Prints the rendered YAML stream (or, with --json, a JSON list of the parsed objects).
"""
import decimal
import json
import pathlib
import re
import sys

import yaml


class RenderError(Exception):
    pass


# ---------------------------------------------------------------- lexing and parsing

ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def lex(text, name):
    """Splits a template into ('text', s) and ('action', s, line) tokens, applying trim markers."""
    tokens = []
    pos = 0
    for m in ACTION_RE.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        tokens.append(["text", chunk])
        line = text.count("\n", 0, m.start()) + 1
        tokens.append(["action", m.group(2).strip(), f"{name}:{line}", bool(m.group(3))])
        pos = m.end()
    tokens.append(["text", text[pos:]])
    # Right trim markers trim the following text.
    for i, t in enumerate(tokens):
        if t[0] == "action" and t[3] and i + 1 < len(tokens):
            tokens[i + 1][1] = tokens[i + 1][1].lstrip(" \t\r\n")
    return tokens


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<decl>:=)
  | (?P<pipe>\|)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)


def tokenize(src, where):
    out = []
    pos = 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise RenderError(f"{where}: cannot parse {src[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class Parser:
    """Parses a pipeline: cmd (| cmd)*, each cmd a list of operands."""

    def __init__(self, toks, where):
        self.toks = toks
        self.i = 0
        self.where = where

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def pipeline(self):
        cmds = [self.command()]
        while self.peek()[0] == "pipe":
            self.i += 1
            cmds.append(self.command())
        return ("pipe", cmds)

    def command(self):
        ops = []
        while True:
            kind, val = self.peek()
            if kind in (None, "pipe", "rp"):
                break
            self.i += 1
            if kind == "lp":
                ops.append(self.pipeline())
                if self.peek()[0] != "rp":
                    raise RenderError(f"{self.where}: missing ')'")
                self.i += 1
            elif kind == "str":
                ops.append(("lit", json.loads(val) if val[0] == '"' else val[1:-1]))
            elif kind == "num":
                ops.append(("lit", float(val) if "." in val else int(val)))
            elif kind in ("var", "field"):
                root = val.split(".")[1] if val.startswith("$.") or kind == "field" and val != "." else ""
                if root in ("Files", "Capabilities", "Template", "Subcharts"):
                    raise RenderError(f"{self.where}: unsupported: .{root}")
                ops.append((kind, val))
            elif kind == "ident":
                if val in ("true", "false"):
                    ops.append(("lit", val == "true"))
                elif val == "nil":
                    ops.append(("lit", None))
                else:
                    ops.append(("fn", val))
            else:
                raise RenderError(f"{self.where}: unexpected {val!r}")
        if not ops:
            raise RenderError(f"{self.where}: empty command")
        return ops


def parse_pipeline(src, where):
    p = Parser(tokenize(src, where), where)
    pipe = p.pipeline()
    if p.i != len(p.toks):
        raise RenderError(f"{where}: unexpected {p.toks[p.i][1]!r}")
    return pipe


KEYWORDS = ("if", "else", "end", "range", "with", "define", "template", "block", "break", "continue")


def parse(tokens, defines):
    """Builds a node list; returns (nodes, terminator) where terminator is the closing action."""
    pos = 0

    def block(stop_at_else):
        nonlocal pos
        nodes = []
        while pos < len(tokens):
            t = tokens[pos]
            pos += 1
            if t[0] == "text":
                if t[1]:
                    nodes.append(("text", t[1]))
                continue
            src, where = t[1], t[2]
            if src.startswith("/*"):
                if not src.endswith("*/"):
                    raise RenderError(f"{where}: unterminated comment")
                continue
            word = src.split(None, 1)[0] if src else ""
            rest = src[len(word):].strip()
            if word == "end":
                return nodes, ("end", where)
            if word == "else":
                if not stop_at_else:
                    raise RenderError(f"{where}: else outside if/range/with")
                return nodes, ("else", rest, where)
            if word == "if":
                nodes.append(parse_if(rest, where))
            elif word == "range":
                nodes.append(parse_range(rest, where))
            elif word == "with":
                nodes.append(parse_with(rest, where))
            elif word == "define":
                name = json.loads(rest)
                body, term = block(False)
                if term[0] != "end":
                    raise RenderError(f"{where}: define without end")
                defines[name] = body
            elif word in KEYWORDS:
                raise RenderError(f"{where}: unsupported: {{{{ {word} }}}}")
            elif re.match(r"^\$[A-Za-z0-9_]*\s*:?=", src):
                raise RenderError(f"{where}: unsupported: variable assignment outside range")
            else:
                nodes.append(("action", parse_pipeline(src, where), where))
        return nodes, None

    def parse_if(cond, where):
        branches = [(parse_pipeline(cond, where), None)]
        body, term = block(True)
        branches[-1] = (branches[-1][0], body)
        else_body = []
        while term and term[0] == "else":
            rest = term[1]
            if rest.startswith("if "):
                cond2 = parse_pipeline(rest[3:], term[2])
                body, term = block(True)
                branches.append((cond2, body))
            elif rest == "":
                else_body, term = block(False)
                break
            else:
                raise RenderError(f"{term[2]}: unsupported: else {rest}")
        if not term or term[0] != "end":
            raise RenderError(f"{where}: if without end")
        return ("if", branches, else_body)

    def parse_with(src, where):
        pipe = parse_pipeline(src, where)
        body, term = block(True)
        else_body = []
        if term and term[0] == "else":
            if term[1]:
                raise RenderError(f"{term[2]}: unsupported: else {term[1]}")
            else_body, term = block(False)
        if not term or term[0] != "end":
            raise RenderError(f"{where}: with without end")
        return ("with", pipe, body, else_body)

    def parse_range(src, where):
        m = re.match(r"^(\$[A-Za-z0-9_]+)(?:\s*,\s*(\$[A-Za-z0-9_]+))?\s*:=\s*(.*)$", src, re.S)
        if m:
            names = [m.group(1)] + ([m.group(2)] if m.group(2) else [])
            pipe = parse_pipeline(m.group(3), where)
        else:
            names = []
            pipe = parse_pipeline(src, where)
        body, term = block(True)
        else_body = []
        if term and term[0] == "else":
            if term[1]:
                raise RenderError(f"{term[2]}: unsupported: else {term[1]}")
            else_body, term = block(False)
        if not term or term[0] != "end":
            raise RenderError(f"{where}: range without end")
        return ("range", names, pipe, body, else_body)

    nodes, term = block(False)
    if term is not None:
        raise RenderError(f"{term[-1]}: unexpected {term[0]}")
    return nodes


# ---------------------------------------------------------------- values and functions

def truthy(v):
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def go_number(v):
    """Formats a number as Go's %v formats Helm's float64 values (strconv 'g', shortest)."""
    if isinstance(v, bool):
        raise RenderError("internal: bool is not a number")
    f = float(v)
    if f == 0:
        return "0"
    d = decimal.Decimal(repr(f))
    sign, digits, exp = d.as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    x = len(digits) + exp - 1  # decimal exponent of the first digit
    s = "-" if sign else ""
    ds = "".join(map(str, digits))
    # strconv.FormatFloat(f, 'g', -1, 64), which %v uses: exponent form when x < -4 or x >= 6.
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{s}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if x >= len(ds) - 1:
        return s + ds + "0" * (x - len(ds) + 1)
    if x >= 0:
        return s + ds[:x + 1] + "." + ds[x + 1:]
    return s + "0." + "0" * (-x - 1) + ds


def to_string(v):
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return go_number(v)
    if isinstance(v, str):
        return v
    raise RenderError(f"unsupported: printing a {type(v).__name__} (use toYaml)")


def go_quote(s):
    return json.dumps(s, ensure_ascii=False)


def fn_printf(fmt, *args):
    out = []
    ai = 0
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(fmt):
            raise RenderError("printf: format ends with %")
        verb = fmt[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        if verb in "sv":
            out.append(to_string(a))
        elif verb == "d":
            if not isinstance(a, int) or isinstance(a, bool):
                raise RenderError(f"printf: %d of {a!r}")
            out.append(str(a))
        elif verb == "q":
            out.append(go_quote(to_string(a)))
        else:
            raise RenderError(f"unsupported: printf verb %{verb}")
    if ai < len(args):
        raise RenderError("printf: too many arguments")
    return "".join(out)


def fn_indent(n, s):
    pad = " " * int(n)
    return pad + to_string(s).replace("\n", "\n" + pad)


def fn_to_yaml(v):
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True, allow_unicode=True).rstrip("\n") \
        if not isinstance(v, (str, int, float, bool)) else \
        yaml.safe_dump(v, default_flow_style=False).rstrip("\n").removesuffix("\n...")


def fn_eq(a, *bs):
    return any(a == b and type(a) is type(b) or (a == b and not isinstance(a, bool) and not isinstance(b, bool)) for b in bs)


class Fail(Exception):
    pass


class SchemaError(Exception):
    pass


def fn_fail(msg):
    raise Fail(to_string(msg))


# ---------------------------------------------------------------- evaluation

class Renderer:
    def __init__(self, defines):
        self.defines = defines

    def call(self, name, args, where):
        simple = {
            "not": lambda a: not truthy(a),
            "eq": fn_eq,
            "ne": lambda a, b: not fn_eq(a, b),
            "empty": lambda a: not truthy(a),
            "default": lambda d, v=None: v if truthy(v) else d,
            "quote": lambda *a: " ".join(go_quote(to_string(x)) for x in a if x is not None),
            "toString": to_string,
            "toYaml": fn_to_yaml,
            "indent": fn_indent,
            "nindent": lambda n, s: "\n" + fn_indent(n, s),
            "printf": fn_printf,
            "fail": fn_fail,
            "hasPrefix": lambda prefix, s: to_string(s).startswith(prefix),
            "trimPrefix": lambda prefix, s: to_string(s).removeprefix(prefix),
        }
        if name == "and":
            for a in args:
                if not truthy(a):
                    return a
            return args[-1]
        if name == "or":
            for a in args:
                if truthy(a):
                    return a
            return args[-1]
        if name == "include":
            if len(args) != 2:
                raise RenderError(f"{where}: include needs a name and a context")
            if args[0] not in self.defines:
                raise RenderError(f"{where}: include of unknown template {args[0]!r}")
            return self.render(self.defines[args[0]], args[1], self.root, {})
        if name not in simple:
            raise RenderError(f"{where}: unsupported function {name!r}")
        try:
            return simple[name](*args)
        except TypeError as e:
            raise RenderError(f"{where}: {name}: wrong arguments ({e})")

    def field(self, base, path, where):
        v = base
        for part in path:
            if v is None:
                raise RenderError(f"{where}: nil pointer evaluating .{part}")
            if not isinstance(v, dict):
                raise RenderError(f"{where}: can't evaluate field {part} in {type(v).__name__}")
            v = v.get(part)
        return v

    def operand(self, op, dot, vars, where):
        kind, val = op
        if kind == "lit":
            return val
        if kind == "pipe":
            return self.pipe(op, dot, vars, where)
        if kind == "field":
            return dot if val == "." else self.field(dot, val[1:].split("."), where)
        if kind == "var":
            name, *path = val.split(".")
            if name not in vars:
                raise RenderError(f"{where}: undefined variable {name}")
            return self.field(vars[name], path, where)
        raise RenderError(f"{where}: internal: operand {kind}")

    def pipe(self, pipe, dot, vars, where):
        result = None
        first = True
        for cmd in pipe[1]:
            head = cmd[0]
            if head[0] == "fn":
                args = [self.operand(o, dot, vars, where) for o in cmd[1:]]
                if not first:
                    args.append(result)
                result = self.call(head[1], args, where)
            else:
                if len(cmd) > 1 or not first:
                    raise RenderError(f"{where}: can't give arguments to a non-function")
                result = self.operand(head, dot, vars, where)
            first = False
        return result

    def render(self, nodes, dot, root, vars):
        self.root = root
        vars = dict(vars)
        vars.setdefault("$", root)
        out = []
        for n in nodes:
            kind = n[0]
            if kind == "text":
                out.append(n[1])
            elif kind == "action":
                v = self.pipe(n[1], dot, vars, n[2])
                out.append("" if v is None else to_string(v))
            elif kind == "if":
                for cond, body in n[1]:
                    if truthy(self.pipe(cond, dot, vars, "if")):
                        out.append(self.render(body, dot, root, vars))
                        break
                else:
                    out.append(self.render(n[2], dot, root, vars))
            elif kind == "with":
                v = self.pipe(n[1], dot, vars, "with")
                out.append(self.render(n[2], v, root, vars) if truthy(v) else self.render(n[3], dot, root, vars))
            elif kind == "range":
                names, pipe, body, else_body = n[1], n[2], n[3], n[4]
                v = self.pipe(pipe, dot, vars, "range")
                if isinstance(v, dict):
                    items = [(k, v[k]) for k in sorted(v)]
                elif isinstance(v, list):
                    items = list(enumerate(v))
                elif v is None:
                    items = []
                else:
                    raise RenderError(f"range over {type(v).__name__}")
                if not items:
                    out.append(self.render(else_body, dot, root, vars))
                for k, item in items:
                    inner = dict(vars)
                    if len(names) == 1:
                        inner[names[0]] = item
                    elif len(names) == 2:
                        inner[names[0]], inner[names[1]] = k, item
                    out.append(self.render(body, item, root, inner))
        return "".join(out)


# ---------------------------------------------------------------- the chart

def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    return over


def set_path(values, path, value):
    parts = path.split(".")
    cur = values
    for p in parts[:-1]:
        if not isinstance(cur.get(p), dict):
            cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = value


def render_chart(chart_dir, release="vigil", namespace="vigil", value_files=(), set_json=()):
    chart_dir = pathlib.Path(chart_dir)
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    if chart.get("dependencies"):
        raise RenderError("unsupported: chart dependencies")
    values = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    for f in value_files:
        values = merge(values, yaml.safe_load(pathlib.Path(f).read_text()) or {})
    for item in set_json:
        key, _, raw = item.partition("=")
        set_path(values, key, json.loads(raw))
    schema_file = chart_dir / "values.schema.json"
    if schema_file.exists():
        # As Helm does: the merged values must meet the chart's JSON schema.
        import jsonschema
        schema = json.loads(schema_file.read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(values), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"- {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
            raise SchemaError("values don't meet the specifications of the schema(s):\n" + "\n".join(lines))
    root = {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                    "IsInstall": True, "IsUpgrade": False, "Revision": 1},
        "Chart": {"Name": chart.get("name"), "Version": chart.get("version"),
                  "AppVersion": chart.get("appVersion"), "Description": chart.get("description"),
                  "Type": chart.get("type", "application")},
    }
    defines = {}
    parsed = []
    templates = sorted((chart_dir / "templates").rglob("*"))
    for path in templates:
        if not path.is_file():
            continue
        rel = path.relative_to(chart_dir).as_posix()
        nodes = parse(lex(path.read_text(), rel), defines)
        if path.name.startswith("_") or path.name == "NOTES.txt":
            continue
        parsed.append((rel, nodes))
    r = Renderer(defines)
    out = []
    for rel, nodes in parsed:
        text = r.render(nodes, root, root, {})
        if text.strip() == "":
            continue
        out.append(f"---\n# Source: {chart['name']}/{rel}\n{text.strip(chr(10))}\n")
    return "".join(out)


def main(argv):
    args = argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    chart = args.pop(0)
    opts = {"release": "vigil", "namespace": "vigil", "value_files": [], "set_json": []}
    as_json = False
    while args:
        a = args.pop(0)
        if a == "--release":
            opts["release"] = args.pop(0)
        elif a == "--namespace":
            opts["namespace"] = args.pop(0)
        elif a == "-f":
            opts["value_files"].append(args.pop(0))
        elif a == "--set-json":
            opts["set_json"].append(args.pop(0))
        elif a == "--json":
            as_json = True
        else:
            print(f"helm_render: unknown argument {a!r}", file=sys.stderr)
            return 2
    try:
        text = render_chart(chart, **opts)
    except Fail as e:
        print(f"helm_render: template failed: {e}", file=sys.stderr)
        return 1
    except SchemaError as e:
        print(f"helm_render: {e}", file=sys.stderr)
        return 1
    except RenderError as e:
        print(f"helm_render: error: {e}", file=sys.stderr)
        return 2
    if as_json:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
        print(json.dumps(docs, indent=1, sort_keys=True))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
