"""The quiz's CSS: JupyterLab theme variables with fallbacks, so light and dark themes
(and pages without JupyterLab's variables, such as exported HTML) stay readable."""

CSS = """
.gpt2-quiz, .gpt2-quiz-static {
  box-sizing: border-box;
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  font-family: var(--jp-content-font-family, system-ui, -apple-system, "Segoe UI",
    "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif);
  font-size: var(--jp-content-font-size1, 14px);
  line-height: 1.6;
  width: 100%;
  max-width: 52em;
}
/* Padding and borders inside the width, not added to it: without this a card whose
   widgets are width: 100% grows a few pixels wider than its box (a horizontal scrollbar). */
.gpt2-quiz *, .gpt2-quiz *::before, .gpt2-quiz *::after,
.gpt2-quiz-static *, .gpt2-quiz-static *::before, .gpt2-quiz-static *::after {
  box-sizing: border-box;
}
.gpt2-quiz-title { font-size: 1.15em; font-weight: 600; margin: 0.2em 0 0.4em; }
.gpt2-quiz-card {
  background: var(--jp-layout-color1, #fff);
  border: 1px solid var(--jp-border-color2, #e0e0e0);
  border-radius: 6px;
  padding: 0.6em 0.9em;
  margin: 0.5em 0;
  width: 100%;
  max-width: 100%;
  overflow-wrap: anywhere;
}
/* ipywidgets gives every widget a 2px side margin; a width: 100% child plus those margins
   is 4px wider than its flex box, which then scrolls sideways. No side margins inside. */
.gpt2-quiz.jupyter-widgets, .gpt2-quiz > .jupyter-widgets, .gpt2-quiz-card > .jupyter-widgets {
  margin-left: 0;
  margin-right: 0;
}
.gpt2-quiz-card > *, .gpt2-quiz .widget-html-content { max-width: 100%; }
/* Drawn from the notebook's saved state with no kernel behind it, ipywidgets marks every
   widget with a red broken-chain icon: one, on the quiz's own box, says it; the buttons fade
   until the cell runs again. */
.gpt2-quiz .jupyter-widgets-disconnected::before { content: none; display: none; }
.gpt2-quiz.jupyter-widgets-disconnected button { opacity: 0.55; }
/* ...and one line at the top of the quiz says how to answer again. */
.gpt2-quiz-reload-hint { display: none; }
.gpt2-quiz.jupyter-widgets-disconnected .gpt2-quiz-reload-hint {
  display: block;
  margin: 0.2em 0 0.4em;
  padding: 0.3em 0.7em;
  border-left: 4px solid var(--jp-warn-color1, #f57c00);
  background: var(--jp-layout-color2, #eee);
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  border-radius: 0 4px 4px 0;
}
.gpt2-quiz-meta {
  color: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54));
  font-size: 0.85em;
  letter-spacing: 0.02em;
}
.gpt2-quiz-question { font-weight: 600; margin: 0.2em 0 0.3em; }
.gpt2-quiz-question p, .gpt2-quiz-feedback p, .gpt2-quiz-static p { margin: 0.25em 0; }
.gpt2-quiz code, .gpt2-quiz-static code {
  background: var(--jp-layout-color2, #eee);
  color: var(--jp-content-font-color1, inherit);
  border-radius: 3px;
  padding: 0 0.25em;
  font-family: var(--jp-code-font-family, monospace);
  font-size: 0.92em;
}
.gpt2-quiz-math svg { display: inline-block; overflow: visible; }
.gpt2-quiz-math-display { display: block; text-align: center; margin: 0.3em 0; }
.gpt2-quiz .widget-radio-box, .gpt2-quiz .jupyter-widget-radio-box { width: 100%; }
.gpt2-quiz .widget-radio-box label, .gpt2-quiz .jupyter-widget-radio-box label {
  height: auto;
  line-height: 1.5;
  white-space: normal;
  padding: 0.2em 0;
  font-size: var(--jp-content-font-size1, 14px);
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  cursor: pointer;
}
.gpt2-quiz .widget-radio-box input, .gpt2-quiz .jupyter-widget-radio-box input {
  height: 1.5em;
  line-height: 1.5;
}
.gpt2-quiz-feedback {
  border-left: 4px solid var(--jp-border-color1, #bdbdbd);
  background: var(--jp-layout-color2, #eee);
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  padding: 0.4em 0.8em;
  margin-top: 0.4em;
  border-radius: 0 4px 4px 0;
}
.gpt2-quiz-feedback.is-correct { border-left-color: var(--jp-success-color1, #388e3c); }
.gpt2-quiz-feedback.is-incorrect { border-left-color: var(--jp-error-color1, #d32f2f); }
.gpt2-quiz-verdict { font-weight: 700; }
.is-correct .gpt2-quiz-verdict { color: var(--jp-success-color1, #388e3c); }
.is-incorrect .gpt2-quiz-verdict { color: var(--jp-error-color1, #d32f2f); }
.gpt2-quiz-note { color: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54)); font-size: 0.9em; }
.gpt2-quiz-warning { color: var(--jp-warn-color0, #e65100); }
.gpt2-quiz-score, .gpt2-quiz-summary {
  border-top: 1px solid var(--jp-border-color2, #e0e0e0);
  padding-top: 0.4em;
  margin-top: 0.3em;
}
.gpt2-quiz-summary strong { color: var(--jp-brand-color1, #1976d2); }
.gpt2-quiz-static ol { margin: 0.3em 0 0.3em 1.8em; padding: 0; }
.gpt2-quiz-static details { margin-top: 0.4em; }
.gpt2-quiz-static summary { cursor: pointer; color: var(--jp-brand-color1, #1976d2); }
"""


def style_tag() -> str:
    return f"<style>{CSS}</style>"
