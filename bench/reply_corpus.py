"""Score extract_reply_text against the reply-trimming corpus (a report: always exits 0)."""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from smsbridge.mail.reply_text import extract_reply_text

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpora/reply-trimming"


@dataclass(frozen=True)
class FixtureResult:
    name: str
    expected: str
    actual: str

    @property
    def exact(self) -> bool:
        return self.expected == self.actual


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would hide the CRLF fixture.
    return path.read_bytes().decode("utf-8")


def score_corpus(corpus: Path) -> list[FixtureResult]:
    """One result per emails/NAME.txt that has a trimmed/NAME.txt, compared stripped."""
    results: list[FixtureResult] = []
    for email in sorted((corpus / "emails").glob("*.txt")):
        expected_path = corpus / "trimmed" / email.name
        if not expected_path.is_file():
            continue
        actual = extract_reply_text(_read(email)).text
        results.append(FixtureResult(email.stem, _read(expected_path).strip(), actual.strip()))
    return results


def exact_ratio(results: list[FixtureResult]) -> float:
    return sum(result.exact for result in results) / len(results) if results else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--diff", action="store_true", help="show a diff for each miss")
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    if not (corpus / "emails").is_dir():
        print(f"no corpus at {corpus} (expected emails/ and trimmed/)")
        return 0
    results = score_corpus(corpus)
    width = max((len(result.name) for result in results), default=10)
    print(f"{'fixture':<{width}}  exact")
    for result in results:
        print(f"{result.name:<{width}}  {'yes' if result.exact else 'NO'}")
        if args.diff and not result.exact:
            diff = difflib.unified_diff(
                result.expected.splitlines(),
                result.actual.splitlines(),
                "expected",
                "actual",
                lineterm="",
            )
            for line in diff:
                print(f"    {line}")
    matched = sum(result.exact for result in results)
    print(f"\nscore: {matched}/{len(results)} exact ({exact_ratio(results):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
