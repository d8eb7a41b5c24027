"""Loading and validating quiz files: valid files, and every rule a bad file can break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from quiz import Question, Quiz, QuizError, load_quiz
from quiz.loader import parse_quiz

HERE = Path(__file__).resolve().parent
MALFORMED = HERE / "malformed"

# file -> (question number or None, field or None, fragments that must all appear)
MALFORMED_CASES: dict[str, tuple[int | None, str | None, list[str]]] = {
    "invalid-json.json": (None, None, ["invalid JSON at line 4, column 21", "double quotes"]),
    "not-utf8.json": (None, None, ["not UTF-8", "save the file as UTF-8"]),
    "top-level-number.json": (None, None, ['expected a JSON object with a "questions" list', "got 42"]),
    "missing-questions.json": (None, "questions", ["top level", 'missing required key "questions"']),
    "empty-questions.json": (None, "questions", ["expected at least one question", "empty list"]),
    "top-level-unknown-key.json": (None, "version", ['unknown key "version"', '"lesson", "title", "questions"']),
    "legacy-keys.json": (1, "q", ['legacy key "q": rename it to "question"', "choices→options", "answer→correct"]),
    "missing-options.json": (1, "options", ['id "no-options"', 'missing required key "options"', "2 to 6"]),
    "missing-explanation.json": (2, "explanation", ['missing required key "explanation"', 'it may be empty']),
    "unknown-key.json": (1, "hint", ['unknown key "hint"', '"stage", "question", "options", "correct", "explanation", "id"']),
    "correct-bool.json": (1, "correct", ['expected an integer index into "options" (0 to 2)', "got true (a boolean)"]),
    "correct-string.json": (1, "correct", ['id "str-index"', 'got "1" (a string)', "integer index"]),
    "correct-float.json": (1, "correct", ["integer index", "got 1.0 (a number)"]),
    "correct-out-of-range.json": (3, "correct", ["is 3", "from 0 to 2", "3 options"]),
    "correct-negative.json": (1, "correct", ["is -1", "0-based index", "from 0 to 2"]),
    "too-few-options.json": (1, "options", ["expected 2 to 6 options, got 1"]),
    "too-many-options.json": (1, "options", ["expected 2 to 6 options, got 7"]),
    "duplicate-options.json": (1, "options", ["options 0 and 2", '"same"', "every option to be different"]),
    "unknown-stage.json": (1, "stage", ['expected one of "pre", "check", "post"', 'got "review"']),
    "blank-question.json": (1, "question", ["empty or whitespace-only", "expected non-empty text"]),
    "blank-option.json": (1, "options[1]", ["option text is empty or whitespace-only"]),
    "duplicate-ids.json": (3, "id", ['id "twin" is already used', "questions 1, 3", "unique"]),
    "question-not-string.json": (1, "question", ["expected a string, got 42 (a number)"]),
    "options-not-list.json": (1, "options", ["expected a list of 2 to 6 strings", '"first, second" (a string)']),
    "option-not-string.json": (1, "options[1]", ["expected option text (a string), got 2 (a number)"]),
    "question-not-object.json": (2, None, ["expected an object with keys", 'got "What is attention?"']),
    "several-problems.json": (2, "stage", ['id "bad-stage"', 'got "during"']),
}


def test_every_malformed_file_has_an_expectation():
    on_disk = {p.name for p in MALFORMED.glob("*.json")}
    assert on_disk == set(MALFORMED_CASES), "add new malformed files to MALFORMED_CASES"


@pytest.mark.parametrize("name", sorted(MALFORMED_CASES))
def test_malformed_file_message_names_file_question_field_and_expectation(name):
    number, field, fragments = MALFORMED_CASES[name]
    path = MALFORMED / name
    with pytest.raises(QuizError) as caught:
        load_quiz(path)
    message = str(caught.value)
    assert str(path) in message
    # the line about this case carries every part of the address
    lines = [line for line in message.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line contains all of {fragments!r}:\n{message}"
    line = lines[0]
    assert line.startswith(f"{path}: ")
    if number is not None:
        assert f"question {number}" in line
    else:
        assert "question " not in line.split(": ")[1]
    if field is not None:
        assert f'field "{field}"' in line


def test_all_problems_of_a_file_are_reported():
    with pytest.raises(QuizError) as caught:
        load_quiz(MALFORMED / "several-problems.json")
    problems = caught.value.problems
    assert [(p.question, p.field) for p in problems] == [(2, "stage"), (3, "correct"), (4, "answer")]
    assert [p.question_id for p in problems] == ["bad-stage", "bad-correct", "legacy"]
    assert 'legacy key "answer"' in str(problems[2]) and "remove it" in str(problems[2])


def test_legacy_keys_name_their_replacements():
    message = str(pytest.raises(QuizError, load_quiz, MALFORMED / "legacy-keys.json").value)
    for old, new in (("q", "question"), ("choices", "options"), ("answer", "correct")):
        assert f'field "{old}": legacy key "{old}": rename it to "{new}"' in message
    # the missing new-style keys are not reported a second time
    assert "missing required key" not in message


def test_problems_across_questions_and_duplicate_ids_together():
    data = [
        {"id": "a", "stage": "pre", "question": "x", "options": ["1", "2"], "correct": 5, "explanation": ""},
        {"id": "a", "stage": "later", "question": "y", "options": ["1", "2"], "correct": 0, "explanation": ""},
    ]
    with pytest.raises(QuizError) as caught:
        parse_quiz(data, source="pair.json")
    text = str(caught.value)
    assert 'pair.json: question 1 (id "a"), field "correct": is 5' in text
    assert 'pair.json: question 2 (id "a"), field "stage"' in text
    assert 'pair.json: question 2 (id "a"), field "id": id "a" is already used' in text


def test_bool_is_not_an_index_even_when_in_range():
    base = {"stage": "pre", "question": "x", "options": ["1", "2"], "explanation": ""}
    for value in (True, False):
        with pytest.raises(QuizError, match=r"got (true|false) \(a boolean\)"):
            parse_quiz([{**base, "correct": value}])
    assert parse_quiz([{**base, "correct": 1}]).questions[0].correct == 1


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(QuizError, match="file not found"):
        load_quiz(tmp_path / "nope.json")
    with pytest.raises(QuizError, match="is a directory"):
        load_quiz(tmp_path)


def test_valid_object_file_loads_models(demo_quiz):
    quiz = load_quiz(demo_quiz)
    assert isinstance(quiz, Quiz) and all(isinstance(q, Question) for q in quiz.questions)
    assert quiz.lesson == "demo-attention"
    assert quiz.path == demo_quiz
    assert [q.stage for q in quiz.questions] == ["pre", "check", "check", "check", "post", "post"]
    assert quiz.key(1) == "causal-mask"
    assert quiz.index_of("cost") == 5 and quiz.index_of(2) == 2 and quiz.index_of(True) is None
    assert quiz.questions[1].correct_option.startswith("把每个位置之后")


def test_bare_list_file_takes_lesson_from_folder(balanced_quiz):
    quiz = load_quiz(balanced_quiz)
    assert quiz.lesson == "balanced"
    assert quiz.title is None
    assert quiz.key(2) == 2  # no ids: the key is the 0-based index
    assert quiz.questions[2].explanation == ""  # empty explanation is valid


def test_seed_file_loads_as_is(seed_copy):
    quiz = load_quiz(seed_copy)
    assert len(quiz.questions) == 6
    assert [q.correct for q in quiz.questions].count(1) == 5


def test_utf8_bom_is_accepted(tmp_path, demo_quiz):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + demo_quiz.read_bytes())
    assert len(load_quiz(path).questions) == 6


def test_models_validate_directly():
    with pytest.raises(ValidationError):
        Question(stage="pre", question="x", options=["a", "b"], correct=True, explanation="")
    q = Question(stage="post", question="x", options=["a", "b"], correct=1, explanation="", id="k")
    assert q.correct_option == "b"
    with pytest.raises(Exception, match="ids must be unique"):
        Quiz(questions=[q, q])


def test_quiz_error_renders_short_in_ipython():
    error = QuizError("broken", file="x.json")
    lines = error._render_traceback_()
    assert any("x.json: broken" in line for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_error_json_position_is_one_based(tmp_path):
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps([1])[:-1], encoding="utf-8")  # "[1" - unterminated
    message = str(pytest.raises(QuizError, load_quiz, path).value)
    assert "line 1, column 3" in message
