"""Generates the syntax tables of ``docs/bitstream.md`` from the declarations.

    python -m icm.common.syntax.docgen            # rewrite the generated part of docs/bitstream.md
    python -m icm.common.syntax.docgen --check    # exit 1 if the docs and the declarations disagree
"""
import sys
from pathlib import Path

from .levels import LEVELS
from .nodes import ByteAlignment, ByteArray, Element, ForEach, If, Sized, Struct, Switch, WhileMoreData
from .structures import ALL_STRUCTURES, ENUMS

BEGIN = "<!-- BEGIN GENERATED SYNTAX: python -m icm.common.syntax.docgen -->"
END = "<!-- END GENERATED SYNTAX -->"
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "bitstream.md"
INDENT = "&nbsp;&nbsp;&nbsp;&nbsp;"


def _rows(nodes: tuple, depth: int, indexes: list[str], out: list[tuple[str, str]]) -> None:
    pad = INDENT * depth
    suffix = "".join(f"[ {i} ]" for i in indexes)
    for node in nodes:
        if isinstance(node, Element):
            out.append((f"{pad}{node.name}{suffix}", node.descriptor))
        elif isinstance(node, ByteArray):
            out.append((f"{pad}{node.name}{suffix}[ {node.count} ]", "b(8)"))
        elif isinstance(node, ByteAlignment):
            out.append((f"{pad}byte_alignment( )", ""))
        elif isinstance(node, If):
            out.append((f"{pad}if( {node.cond.field}{suffix} {node.cond.op} {node.cond.value} ) {{", ""))
            _rows(node.body, depth + 1, indexes, out)
            out.append((f"{pad}}}", ""))
        elif isinstance(node, ForEach):
            out.append((f"{pad}for( {node.index} = 0; {node.index} < {node.count}; {node.index}++ ) {{", ""))
            _rows(node.body, depth + 1, indexes + [node.index], out)
            out.append((f"{pad}}}", ""))
        elif isinstance(node, Sized):
            _rows((node.size, ByteAlignment()), depth, indexes, out)
            out.append((f"{pad}/* the body below is exactly {node.size.name} bytes long */", ""))
            _rows(node.body, depth, indexes, out)
        elif isinstance(node, Switch):
            for number, (value, case) in enumerate(node.cases.items()):
                name = ENUMS.get(node.field, {}).get(value, value)
                keyword = "if" if number == 0 else "else if"  # one chain: exactly one branch applies
                out.append((f"{pad}{keyword}( {node.field} == {value} ) /* {name} */", ""))
                out.append((f"{pad}{INDENT}{case.name}( )", ""))
            out.append((f"{pad}else /* reserved values: every other {node.field} */", ""))
            out.append((f"{pad}{INDENT}{node.skip_name}[ rest of the body ]", "b(8)"))
        elif isinstance(node, WhileMoreData):
            out.append((f"{pad}while( more_data_in_bitstream( ) ) {{", ""))
            _rows(node.body, depth + 1, indexes, out)
            out.append((f"{pad}}}", ""))
        elif isinstance(node, Struct):
            out.append((f"{pad}{node.name}( )", ""))
        else:
            raise TypeError(f"unknown syntax node {node!r}")


def _elements(nodes: tuple):
    for node in nodes:
        if isinstance(node, (Element, ByteArray)):
            yield node
        elif isinstance(node, (If, ForEach, Sized)):
            if isinstance(node, Sized):
                yield node.size
            yield from _elements(node.body)
        elif isinstance(node, WhileMoreData):
            yield from _elements(tuple(n for n in node.body if not isinstance(n, Struct)))


def _semantics(element) -> str:
    if isinstance(element, ByteArray):
        return f"- **{element.name}**: {element.doc}"
    notes = []
    if element.fixed is not None:
        notes.append(f"shall be 0x{element.fixed:08X}")
    if element.minimum is not None and element.maximum is not None:
        notes.append(f"range {element.minimum}..{element.maximum}")
    elif element.minimum is not None:
        notes.append(f"at least {element.minimum}")
    elif element.maximum is not None:
        notes.append(f"at most {element.maximum}")
    if element.limit:
        notes.append(f"at most the level's {element.limit}")
    if element.finite:
        notes.append("finite" + (" and > 0" if element.positive else ""))
    text = f"- **{element.name}**: {element.doc}"
    if notes:
        text += " (" + "; ".join(notes) + ")"
    if element.enum:
        text += " Values: " + ", ".join(f"{k} = {v}" for k, v in element.enum.items()) + "; others reserved."
    return text


def render() -> str:
    lines = [BEGIN, ""]
    for struct in ALL_STRUCTURES:
        lines += [f"### {struct.name}( )", "", struct.doc, "", "| Syntax | Descriptor |", "| --- | --- |",
                  f"| {struct.name}( ) {{ | |"]
        rows: list[tuple[str, str]] = []
        _rows(struct.body, 1, [], rows)
        lines += [f"| {syntax} | {descriptor} |" for syntax, descriptor in rows]
        lines += ["| } | |", ""]
        semantics = [_semantics(e) for e in _elements(struct.body)]
        if semantics:
            lines += ["Semantics:", ""] + semantics + [""]
    lines += ["### Level limits", "", "Every limited element is checked against the limits of `ps_level_idc` as "
              "soon as it is read, before anything is allocated from it.", ""]
    keys = list(next(iter(LEVELS.values())))
    lines += ["| limit | " + " | ".join(f"level_idc {idc}" for idc in LEVELS) + " |",
              "| --- | " + " | ".join("---" for _ in LEVELS) + " |"]
    lines += [f"| {key} | " + " | ".join(str(LEVELS[idc][key]) for idc in LEVELS) + " |" for key in keys]
    lines += ["", END]
    return "\n".join(lines)


def splice(document: str) -> str:
    """``document`` with its generated part replaced by a fresh rendering."""
    if BEGIN not in document or END not in document:
        raise ValueError(f"{DOC_PATH} lacks the generated-syntax markers")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + render() + tail


def main(argv: list[str]) -> int:
    document = DOC_PATH.read_text()
    fresh = splice(document)
    if "--check" in argv:
        if fresh != document:
            print(f"{DOC_PATH} is out of date: run python -m icm.common.syntax.docgen")
            return 1
        return 0
    DOC_PATH.write_text(fresh)
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
