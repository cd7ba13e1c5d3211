"""The DGBAS industry classification (11th revision) as a NetworkX tree, and distances on it.

The tree has a virtual root ``*`` above the 19 sections (A to S), then 2-, 3- and 4-digit
codes. Proximity of two codes is their path length in the tree; a request whose code lies
inside a code the company named (the company's code is an ancestor or the same) is at
distance 0, because the company said it wants that whole branch.
"""

from __future__ import annotations

from functools import cache

import networkx as nx

from foundation.reference import industries

ROOT = "*"

#: English section names (the reference CSV has Chinese names only). Reasons name the
#: section in both languages.
SECTIONS_EN = {
    "A": "Agriculture, Forestry, Fishing and Animal Husbandry",
    "B": "Mining and Quarrying",
    "C": "Manufacturing",
    "D": "Electricity and Gas Supply",
    "E": "Water Supply and Remediation Activities",
    "F": "Construction",
    "G": "Wholesale and Retail Trade",
    "H": "Transportation and Storage",
    "I": "Accommodation and Food Service Activities",
    "J": "Publishing, Audiovisual and Information and Communication",
    "K": "Financial and Insurance Activities",
    "L": "Real Estate Activities",
    "M": "Professional, Scientific and Technical Activities",
    "N": "Support Service Activities",
    "O": "Public Administration and Defence; Compulsory Social Security",
    "P": "Education",
    "Q": "Human Health and Social Work Activities",
    "R": "Arts, Entertainment and Recreation",
    "S": "Other Service Activities",
}


@cache
def tree() -> nx.DiGraph:
    """The classification as a directed tree from ``ROOT`` down to the 4-digit classes.
    Every node carries ``name`` and ``level`` (0 for the root)."""
    graph = nx.DiGraph()
    graph.add_node(ROOT, name="", level=0)
    for code, industry in industries().items():
        graph.add_node(code, name=industry.name, level=industry.level)
    for code, industry in industries().items():
        graph.add_edge(industry.parent_code or ROOT, code)
    if not nx.is_arborescence(graph):  # pragma: no cover - guards the shipped data
        raise ValueError("tw_industries.csv does not form a tree")
    return graph


@cache
def _undirected() -> nx.Graph:
    return tree().to_undirected(as_view=False)


@cache
def codes() -> tuple[str, ...]:
    """Every code in a fixed order (the file's order), used to index score tables."""
    return tuple(industries())


@cache
def code_index() -> dict[str, int]:
    """Code to its position in ``codes()``."""
    return {code: i for i, code in enumerate(codes())}


def is_code(code: str) -> bool:
    """Whether ``code`` is a DGBAS code of any level."""
    return code in industries()


@cache
def ancestors(code: str) -> tuple[str, ...]:
    """The code itself, then its parent, up to its section (the root excluded)."""
    chain = [code]
    parent = industries()[code].parent_code
    while parent:
        chain.append(parent)
        parent = industries()[parent].parent_code
    return tuple(chain)


def section(code: str) -> str:
    """The section letter a code belongs to."""
    return ancestors(code)[-1]


@cache
def distances_from(code: str) -> dict[str, int]:
    """Tree distance from ``code`` to every other code (breadth-first on the tree)."""
    lengths = nx.single_source_shortest_path_length(_undirected(), code)
    lengths.pop(ROOT, None)
    return lengths


def covers(interest: str, code: str) -> bool:
    """Whether a company interested in ``interest`` wants ``code`` (same code or inside it)."""
    return interest in ancestors(code)


def proximity(interest: str, code: str) -> int | None:
    """Distance used for scoring: 0 when ``interest`` covers ``code``, the tree distance when
    both are in the same section, ``None`` when they are in different sections (the path
    would go through the virtual root, which says nothing about closeness)."""
    if covers(interest, code):
        return 0
    if section(interest) != section(code):
        return None
    return distances_from(interest)[code]


def label(code: str) -> tuple[str, str]:
    """``(zh, en)`` labels of a code, e.g. ``("C 製造業", "C Manufacturing")``; codes below
    section level have Chinese names only, so the English label names the section too."""
    name = industries()[code].name
    if len(code) == 1:
        return f"{code} {name}", f"{code} {SECTIONS_EN[code]}"
    sec = section(code)
    return f"{code} {name}", f"{code}, section {sec} {SECTIONS_EN[sec]}"
