"""Reads rr's EC2 user data back by parsing its PowerShell with tree-sitter-powershell: every
string it holds, the agent's settings lines and the credential among them."""

import re

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

PARSER = Parser(Language(tree_sitter_powershell.language()))
_SETTING = re.compile(r"(RR_AGENT_[A-Z_]+)=(.*)")


def powershell_of(script: str) -> bytes:
    """The PowerShell inside the ``<powershell>`` tags EC2Launch strips."""
    assert script.startswith("<powershell>\n") and script.endswith("</powershell>\n")
    return script.removeprefix("<powershell>\n").removesuffix("</powershell>\n").encode()


def strings_in_user_data(script: str) -> list[str]:
    """The value of every string literal in the script, in order."""
    found: list[str] = []

    def walk(node: Node) -> None:
        if node.type == "string_literal":
            text = (node.text or b"").decode()
            if text.startswith("'"):
                found.append(text[1:-1].replace("''", "'"))
            else:
                found.append(text[1:-1])
            return
        for child in node.children:
            walk(child)

    walk(PARSER.parse(powershell_of(script)).root_node)
    return found


def agent_settings_in_user_data(script: str) -> dict[str, str]:
    """The ``KEY=VALUE`` lines the user data writes for the agent."""
    return {
        match.group(1): match.group(2)
        for text in strings_in_user_data(script)
        if (match := _SETTING.fullmatch(text))
    }


def credentials_in_user_data(script: str) -> list[str]:
    return [text for text in strings_in_user_data(script) if text.startswith("rr1.")]
