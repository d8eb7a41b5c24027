"""Markdown and formulas: HTML for the notebook, plain text for labels and terminals."""

from __future__ import annotations

import re

from quiz import markdown


def test_inline_code_bold_and_escaping():
    html = markdown.to_html("Set `lm_head.weight` **once**; <script>alert(1)</script> & T < 1")
    assert "<code>lm_head.weight</code>" in html
    assert "<strong>once</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&amp;" in html and "T &lt; 1" in html


def test_inline_html_has_no_paragraph_wrapper():
    assert markdown.to_inline_html("**64** heads") == "<strong>64</strong> heads"


def test_formula_becomes_theme_coloured_svg_with_tex_label():
    html = markdown.to_inline_html(r"scale by $\frac{1}{\sqrt{d_k}}$ first")
    assert html.startswith("scale by ") and html.endswith(" first")
    assert '<span class="gpt2-quiz-math"><svg' in html
    assert "currentColor" in html and "#000000" not in html
    assert r'aria-label="\frac{1}{\sqrt{d_k}}"' in html
    assert "<style" not in html  # an inline SVG <style> would leak onto the page
    assert "\n" not in html


def test_formula_glyph_ids_do_not_collide_between_formulas():
    a = markdown.formula_html("x^2")
    b = markdown.formula_html("y_1")
    ids_a = set(re.findall(r' id="([^"]+)"', a))
    ids_b = set(re.findall(r' id="([^"]+)"', b))
    assert ids_a and ids_b and not ids_a & ids_b


def test_unsupported_tex_falls_back_to_code():
    html = markdown.formula_html(r"\begin{pmatrix}a\end{pmatrix}")
    assert html == r'<code class="gpt2-quiz-math">\begin{pmatrix}a\end{pmatrix}</code>'


def test_dollar_amounts_are_not_formulas():
    html = markdown.to_html("costs $5 and $10 today")
    assert "svg" not in html and "$5 and $10" in html
    assert "svg" not in markdown.to_html(r"escaped \$x\$ stays")


def test_display_formula():
    assert "gpt2-quiz-math-display" in markdown.to_html("$$a + b$$")


def test_plain_text_keeps_code_and_turns_tex_into_unicode():
    assert markdown.to_label("Use `x.view(B, T, C)` **now**") == "Use x.view(B, T, C) now"
    assert markdown.to_label(r"$\frac{QK^\top}{\sqrt{d_k}}$") == "QKᵀ/√d_k"
    assert markdown.to_label(r"$T \times T$ and $x^2$") == "T × T and x²"
    assert markdown.tex_to_text(r"\mathrm{softmax}(x)_i") == "softmax(x)_i"


def test_plain_text_blocks_and_lists():
    text = markdown.to_plain("Intro\n\n- one\n- two `c`\n\n```\ncode()\n```")
    assert text == "Intro\n\n- one\n- two c\n\n    code()"


def test_cjk_passes_through():
    assert markdown.to_label("多头注意力:`d_model = 768`") == "多头注意力:d_model = 768"
    assert "多头注意力" in markdown.to_html("多头注意力")
