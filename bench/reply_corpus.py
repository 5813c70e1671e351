"""Score extract_reply_text on every reply set: exact, kept too much, cut too much (always exits 0).

The sets: the shared reply-trimming corpus (../shared, skipped when absent) and the repository's
client-formats set, scored as its dev split and its held-out split. With --compare, reply
parsers from PyPI (the dev extras) are scored on the same sets, where they are installed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from smsbridge.mail.reply_text import extract_reply_text

REPO = Path(__file__).resolve().parents[1]
CLIENT_FORMATS = REPO / "tests/mail/reply_sets/client_formats"


def _find_shared_corpus() -> Path:
    # Beside the checkout (../shared), or the workplace's fixed place for a clone elsewhere.
    candidates = [
        Path(os.environ.get("SMSBRIDGE_REPLY_CORPUS", "/nonexistent")),
        REPO.parent / "shared/corpora/reply-trimming",
        Path("/work/shared/corpora/reply-trimming"),
    ]
    return next((path for path in candidates if (path / "emails").is_dir()), candidates[1])


DEFAULT_CORPUS = _find_shared_corpus()

Extractor = Callable[[str], str]


@dataclass(frozen=True)
class FixtureResult:
    name: str
    expected: str
    actual: str

    @property
    def exact(self) -> bool:
        return self.expected == self.actual

    @property
    def cut_too_much(self) -> bool:
        """Is any line of the writer's text missing (in order) from what was kept?"""
        if self.exact:
            return False
        kept = iter(line.strip() for line in self.actual.splitlines())
        wanted = [line.strip() for line in self.expected.splitlines() if line.strip()]
        # A subsequence test: each wanted line must appear after the previous one.
        return not all(any(line == candidate for candidate in kept) for line in wanted)

    @property
    def kept_too_much(self) -> bool:
        return not self.exact and not self.cut_too_much


@dataclass(frozen=True)
class ReplySet:
    name: str
    items: list[tuple[str, str, str]]  # (name, body, expected)
    held_out: bool = False


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would hide the CRLF fixture.
    return path.read_bytes().decode("utf-8")


def _ours(body: str) -> str:
    return extract_reply_text(body).text


def _score(items: Iterable[tuple[str, str, str]], extract: Extractor) -> list[FixtureResult]:
    return [
        FixtureResult(name, expected.strip(), extract(body).strip())
        for name, body, expected in items
    ]


def load_corpus(corpus: Path) -> list[tuple[str, str, str]]:
    """(name, body, expected) per emails/NAME.txt that has a trimmed/NAME.txt."""
    items: list[tuple[str, str, str]] = []
    for email in sorted((corpus / "emails").glob("*.txt")):
        expected_path = corpus / "trimmed" / email.name
        if expected_path.is_file():
            items.append((email.stem, _read(email), _read(expected_path)))
    return items


def load_client_formats(folder: Path = CLIENT_FORMATS) -> dict[str, list[tuple[str, str, str]]]:
    """The client-formats items by split ("dev", "heldout"), from its manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    splits: dict[str, list[tuple[str, str, str]]] = {"dev": [], "heldout": []}
    for entry in manifest["items"]:
        name = entry["id"]
        body = _read(folder / "emails" / f"{name}.txt")
        expected = _read(folder / "expected" / f"{name}.txt")
        splits[entry["split"]].append((name, body, expected))
    return splits


def score_corpus(corpus: Path, extract: Extractor = _ours) -> list[FixtureResult]:
    """One result per fixture of a corpus laid out as emails/ and trimmed/."""
    return _score(load_corpus(corpus), extract)


def score_items(
    items: Iterable[tuple[str, str, str]], extract: Extractor = _ours
) -> list[FixtureResult]:
    return _score(items, extract)


def exact_ratio(results: list[FixtureResult]) -> float:
    return sum(result.exact for result in results) / len(results) if results else 0.0


def reply_sets(corpus: Path) -> list[ReplySet]:
    sets: list[ReplySet] = []
    if (corpus / "emails").is_dir():
        sets.append(ReplySet("shared reply-trimming", load_corpus(corpus)))
    splits = load_client_formats()
    sets.append(ReplySet("client-formats (dev)", splits["dev"]))
    sets.append(ReplySet("client-formats (held-out)", splits["heldout"], held_out=True))
    return sets


# --- other parsers, for --compare --------------------------------------------------------------


def _mail_parser_reply() -> Extractor | None:
    try:
        from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]
        from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-not-found]
    except ImportError:
        return None
    # Every language it knows: our sets mix them, and it is told nothing else about the mail.
    parser = EmailReplyParser(languages=[code for code in MAIL_LANGUAGES if code != "david"])
    return lambda body: str(parser.parse_reply(text=body))


def _email_reply_parser() -> Extractor | None:
    try:
        from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]
    except ImportError:
        return None
    return lambda body: str(EmailReplyParser.parse_reply(body))


def _quotequail() -> Extractor | None:
    try:
        import quotequail  # type: ignore[import-not-found]
    except ImportError:
        return None

    def extract(body: str) -> str:
        # quote() marks each part True (the reply) or False (quoted); the reply is the first
        # run of True parts. It keeps the "On ... wrote:" line with the reply, by design.
        parts: list[str] = []
        for is_reply, text in quotequail.quote(body):
            if not is_reply:
                break
            parts.append(text)
        return "\n".join(parts)

    return extract


COMPARED: dict[str, Callable[[], Extractor | None]] = {
    "mail-parser-reply": _mail_parser_reply,
    "email-reply-parser": _email_reply_parser,
    "quotequail": _quotequail,
}


# --- report ------------------------------------------------------------------------------------


def _cell(count: int, total: int) -> str:
    return f"{count} ({count / total:.1%})" if total else "0"


def _row(label: str, set_name: str, results: list[FixtureResult]) -> str:
    total = len(results)
    exact = sum(result.exact for result in results)
    kept = sum(result.kept_too_much for result in results)
    cut = sum(result.cut_too_much for result in results)
    return (
        f"{label:<20} {set_name:<27} {total:>5}  {_cell(exact, total):>13}  "
        f"{_cell(kept, total):>13}  {_cell(cut, total):>13}"
    )


def _print_diff(result: FixtureResult) -> None:
    kind = "CUT TOO MUCH" if result.cut_too_much else "kept too much"
    print(f"  {result.name}: {kind}")
    diff = difflib.unified_diff(
        result.expected.splitlines(), result.actual.splitlines(), "expected", "actual", lineterm=""
    )
    for line in diff:
        print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--diff", action="store_true", help="show a diff for each of our misses")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="with --diff, show the held-out split's misses too (do not tune against them)",
    )
    parser.add_argument(
        "--compare", action="store_true", help="also score the reply parsers installed from PyPI"
    )
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    if not (corpus / "emails").is_dir():
        print(f"(no shared corpus at {corpus}: expected emails/ and trimmed/; skipped)")
    sets = reply_sets(corpus)
    extractors: list[tuple[str, Extractor]] = [("smsbridge", _ours)]
    if args.compare:
        for name, load in COMPARED.items():
            extract = load()
            if extract is None:
                print(f"({name} is not installed: scripts/bootstrap dev installs it)")
            else:
                extractors.append((name, extract))
    header = (
        f"{'extractor':<20} {'set':<27} {'items':>5}  {'exact':>13}  {'kept too much':>13}  "
        f"{'cut too much':>13}"
    )
    print(header)
    print("-" * len(header))
    for label, extract in extractors:
        for reply_set in sets:
            results = score_items(reply_set.items, extract)
            print(_row(label, reply_set.name, results))
            if args.diff and label == "smsbridge" and (args.held_out or not reply_set.held_out):
                for result in results:
                    if not result.exact:
                        _print_diff(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
