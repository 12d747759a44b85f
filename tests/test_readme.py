"""The README stays a newcomer's page: short, a real screenshot on its first screen, every link landing somewhere,
and a Layout section that names the package's modules as they are."""

import re
from pathlib import Path

from tests.conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"")  # [text](target) and <img src="target">


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def local_links(page: Path) -> list[str]:
    targets = [a or b for a, b in LINK.findall(page.read_text())]
    return [t for t in targets if not re.match(r"[a-z]+://|mailto:", t)]


def test_readme_is_short_and_shows_a_real_screenshot_on_its_first_screen() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:40])
    assert 'src="docs/tensorboard.png"' in first_screen
    assert "quickstart:begin" in first_screen and "pip install -e . && python train.py" in first_screen
    screenshot = (ROOT / "docs" / "tensorboard.png").read_bytes()
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n") and len(screenshot) < 150_000


def test_every_local_link_in_the_readme_and_docs_resolves() -> None:
    checked = 0
    for page in PAGES:
        for target in local_links(page):
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target} links to nothing"
            if anchor:
                assert anchor in anchors(linked), f"{page.name}: {target}: no heading #{anchor} in {linked.name}"
            checked += 1
    assert checked >= len(PAGES)  # every page links somewhere (at least back to the README)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in local_links(README)}
    assert {page.resolve() for page in PAGES[1:]} <= linked


def test_layout_names_every_module_of_the_package_and_nothing_else() -> None:
    text = README.read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    named = set(re.findall(r"\b(\w+\.py)\b", layout))
    package = ROOT / "src" / "mlp_template"
    modules = {p.name for p in package.rglob("*.py") if p.name != "__init__.py"}
    tracked = {p.name for p in [*ROOT.glob("*.py"), *(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]}
    assert modules <= named, f"modules missing from the README's Layout: {sorted(modules - named)}"
    assert named <= tracked, f"the README's Layout names files that do not exist: {sorted(named - tracked)}"
