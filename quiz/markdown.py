"""Quiz text (Markdown with ``$...$`` formulas) to HTML and to plain text.

We render Markdown ourselves with markdown-it-py instead of relying on the front end
(``HTMLMath`` typesetting is unreliable in JupyterLab 4). Formulas become inline SVG drawn
by matplotlib's mathtext, painted in ``currentColor`` so they follow the theme; a formula
mathtext cannot draw falls back to its TeX source in ``<code>``. Raw HTML in quiz text is
escaped, never passed through.

Plain text (radio-button labels, the terminal quiz, ``text/plain`` output) keeps code as
is, drops emphasis markers and turns common TeX into Unicode (``\\sqrt{d}`` → ``√d``).
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

# --- the $...$ rule -----------------------------------------------------------------


def _math_rule(state: StateInline, silent: bool) -> bool:
    """Inline ``$tex$`` and ``$$tex$$`` (pandoc's rules: no space inside the dollars,
    no digit right after the closing one, so "$5 and $10" stays text)."""
    src, start = state.src, state.pos
    if src[start] != "$":
        return False
    display = src.startswith("$$", start)
    marker = "$$" if display else "$"
    content_start = start + len(marker)
    if content_start >= state.posMax or (not display and src[content_start].isspace()):
        return False
    search = content_start
    while True:
        end = src.find(marker, search)
        if end == -1 or end >= state.posMax + 1:
            return False
        if src[end - 1] == "\\":
            search = end + 1
            continue
        if not display and (src[end - 1].isspace() or src[end + 1 : end + 2].isdigit()):
            search = end + 1
            continue
        break
    tex = src[content_start:end]
    if not tex.strip():
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = tex.strip()
        token.markup = marker
        token.meta = {"display": display}
    state.pos = end + len(marker)
    return True


def _render_math(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    return formula_html(token.content, display=bool(token.meta.get("display")))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.inline.ruler.before("escape", "math_inline", _math_rule)
    md.add_render_rule("math_inline", _render_math)
    return md


_MD = _parser()


def to_html(text: str) -> str:
    """Block Markdown (paragraphs, lists, code blocks) to HTML."""
    return _MD.render(text or "").strip()


def to_inline_html(text: str) -> str:
    """One line of Markdown (an option) to HTML, without a wrapping ``<p>``."""
    html_text = _MD.render(text or "").strip()
    match = re.fullmatch(r"<p>(.*)</p>", html_text, flags=re.S)
    return match.group(1) if match else html_text


# --- formulas ------------------------------------------------------------------------


def formula_html(tex: str, display: bool = False) -> str:
    """A formula as inline SVG that follows the text colour, or ``<code>`` if it can't."""
    svg = _formula_svg(tex)
    if svg is None:
        return f'<code class="gpt2-quiz-math">{html.escape(tex)}</code>'
    if display:
        return f'<span class="gpt2-quiz-math gpt2-quiz-math-display">{svg}</span>'
    return f'<span class="gpt2-quiz-math">{svg}</span>'


_FONT_PT = 14.0


@lru_cache(maxsize=512)
def _formula_svg(tex: str) -> str | None:
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.mathtext import MathTextParser
    except Exception:  # pragma: no cover - matplotlib is a course requirement
        return None
    source = f"${tex}$"
    prop = FontProperties(size=_FONT_PT)
    marker = "#0a0b0c"  # a colour no formula uses, replaced by currentColor below
    try:
        with matplotlib.rc_context(
            {"svg.fonttype": "path", "svg.hashsalt": "gpt2-quiz", "mathtext.fontset": "dejavusans"}
        ):
            width, height, depth, _, _ = MathTextParser("path").parse(source, dpi=72, prop=prop)
            figure = Figure(figsize=(width / 72, height / 72), facecolor="none")
            figure.text(0, depth / height, source, fontproperties=prop, color=marker)
            buffer = io.BytesIO()
            figure.savefig(buffer, dpi=72, format="svg", transparent=True, metadata={"Date": None})
    except Exception:
        return None  # mathtext knows a subset of TeX; show the source instead
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    # A <style> inside inline SVG applies to the whole page (its "*" rule would restyle
    # JupyterLab's own icons), and the background patch is invisible anyway.
    svg = re.sub(r"<style.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'<g id="patch_1">.*?</g>', "", svg, count=1, flags=re.S)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    svg = re.sub(r">\s+<", "><", svg).replace("<defs></defs>", "")
    svg = svg.replace(marker, "currentColor")
    # Glyph ids are only unique within one drawing: make them unique on the page.
    prefix = "q" + hashlib.sha1(tex.encode("utf-8")).hexdigest()[:10] + "-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    em = lambda points: f"{points / _FONT_PT:.3f}em"  # noqa: E731 - a tiny local helper
    label = html.escape(tex, quote=True)
    svg = re.sub(
        r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
        lambda m: (
            f'<svg {m.group(1)}width="{em(width)}" height="{em(height)}" role="img" '
            f'aria-label="{label}" style="vertical-align: -{em(depth)}; fill: currentColor"'
        ),
        svg,
        count=1,
    )
    svg = svg.replace(">", f"><title>{label}</title>", 1)
    return svg.strip()


# --- plain text ----------------------------------------------------------------------

_TEX_SYMBOLS = {
    "times": "×", "cdot": "·", "div": "÷", "pm": "±", "mp": "∓", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "equiv": "≡",
    "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "in": "∈", "notin": "∉", "sum": "∑", "prod": "∏", "int": "∫", "partial": "∂",
    "nabla": "∇", "ldots": "…", "cdots": "⋯", "dots": "…", "log": "log", "exp": "exp",
    "max": "max", "min": "min", "softmax": "softmax", "top": "ᵀ", "quad": " ", "qquad": "  ",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ",
    "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", ",": " ", ";": " ",
}
_SUPERSCRIPT = str.maketrans("0123456789+-=()nT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿᵀ")


def tex_to_text(tex: str) -> str:
    """A readable Unicode approximation of a TeX formula (for plain-text output)."""
    text = tex
    for _ in range(4):  # nested \frac / \sqrt
        text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
        text = re.sub(r"\\sqrt\{([^{}]*)\}", lambda m: "√" + _group(m.group(1)), text)
        text = re.sub(r"\\(?:mathrm|text|mathbf|mathit|operatorname|textrm)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\sqrt\s*(\w)", r"√\1", text)
    text = re.sub(r"\\([A-Za-z]+|[,;])", lambda m: _TEX_SYMBOLS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: _superscript(m.group(1)), text)
    text = re.sub(r"\^(\w)", lambda m: _superscript(m.group(1)), text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = text.replace("^ᵀ", "ᵀ").replace("\\{", "{").replace("\\}", "}").replace("{", "").replace("}", "")
    text = re.sub(r"\(([\w.√]+)\)/\(([\w.√]+)\)", r"\1/\2", text)
    return re.sub(r"\s+", " ", text).strip()


def _group(inner: str) -> str:
    return inner if re.fullmatch(r"[\w.]+", inner) else f"({inner})"


def _superscript(inner: str) -> str:
    if all(ch in "0123456789+-=()nT" for ch in inner):
        return inner.translate(_SUPERSCRIPT)
    return f"^({inner})" if len(inner) > 1 else f"^{inner}"


def to_plain(text: str) -> str:
    """Markdown to readable plain text (code kept as written, formulas in Unicode)."""
    blocks: list[str] = []
    markers: list[str] = []  # one per open list: "- " or "1. "
    previous_was_item = False
    for token in _MD.parse(text or ""):
        if token.type == "bullet_list_open":
            markers.append("- ")
        elif token.type == "ordered_list_open":
            markers.append("1. ")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            markers.pop()
        elif token.type == "inline":
            line = _inline_plain(token.children or [])
            if markers:
                line = "  " * (len(markers) - 1) + markers[-1] + line
                if previous_was_item:
                    blocks[-1] += "\n" + line
                else:
                    blocks.append(line)
                previous_was_item = True
                continue
            blocks.append(line)
        elif token.type in ("fence", "code_block"):
            blocks.append("\n".join("    " + row for row in token.content.rstrip("\n").split("\n")))
        else:
            continue
        previous_was_item = False
    return "\n\n".join(b for b in blocks if b).strip()


def _inline_plain(children) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type == "math_inline":
            parts.append(tex_to_text(child.content))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content or "")
    return "".join(parts)


def to_label(text: str) -> str:
    """One line of plain text (a radio-button label or a lettered option)."""
    return " ".join(to_plain(text).split())
