"""Judges the received result messages against the expected answers. Pure functions, no I/O.

Rules (docs/grading.md):
- A message is malformed when it is not JSON or breaks the schema of docs/contracts.md (checked by
  `contract.Result`); wrong group when its MessageGroupId differs from its `device_id`; a duplicate
  when its (frame_key, face_index) was already seen (a redelivery of the same SQS message is not);
  unexpected when its clip key was not sent by this run. Duplicates and unexpected results are not
  judged again; wrong-group results are judged (the answer came) and also listed.
- A clip's answer is the majority `name` over its results that name a person; `unknown` (a stranger,
  e.g. a bystander beside the person) answers only when no result names anyone (ties: the name received
  first); its student record is that of the first result giving that name. The answer is correct when
  the name is an accepted person and the record equals the students table's, with the years
  `freshman` and `freshmen` treated as equal (the course's mapping and its table disagree).
- Latency: first result received for the clip minus the grader's own PUT start (ms); late above the limit.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contract import UNKNOWN, LatencyStats, MalformedResultError, Result, Student
from grader.collector import Received

YEAR_ALIASES = {"freshman": "freshmen"}
NORMALISATION_NOTE = (
    "Years 'freshman' and 'freshmen' count as equal: the course's expected-output file (mapping) says "
    "'freshman' for mr_bean where its student_data.json says 'freshmen'."
)
MAJORITY_NOTE = (
    "A clip with several results is answered by the majority name among the results naming a person; "
    "'unknown' faces (bystanders) answer only when nobody was named (ties: the name received first)."
)
BODY_EXCERPT = 200
ISSUE_KINDS = ("missing", "wrong", "late", "duplicate", "malformed", "wrong_group", "unexpected")
COUNT_FIELDS = ("total", "answered", "correct", *ISSUE_KINDS, "upload_failed")


@dataclass(frozen=True)
class Expected:
    """What one upload should produce: accepted person(s), and when its PUT started (epoch s; None: not sent)."""

    clip_key: str
    name: str
    source: str
    persons: tuple[str, ...]
    uploaded_at: float | None
    upload_error: str | None = None


@dataclass(frozen=True)
class Issue:
    """One listed problem: its kind (ISSUE_KINDS), the clip key (or message id) and what went wrong."""

    kind: str
    key: str
    detail: str


@dataclass(frozen=True)
class ClipVerdict:
    """The verdict on one upload: outcome correct | wrong | missing, the answer and its latency (ms)."""

    expected: Expected
    outcome: str
    answer: str | None
    student: Student | None
    latency_ms: float | None
    late: bool
    results: int
    detail: str
    normalised: bool = False


@dataclass(frozen=True)
class VideoRow:
    """Per source video: how its uploads fared."""

    source: str
    persons: tuple[str, ...]
    sent: int
    answered: int
    correct: int
    wrong: int
    missing: int
    late: int


@dataclass(frozen=True)
class Verdict:
    """Every clip's verdict, the listed issues and the notes for the report."""

    clips: tuple[ClipVerdict, ...]
    issues: tuple[Issue, ...]
    notes: tuple[str, ...]
    latency: LatencyStats

    @property
    def total(self) -> int:
        """Uploads in the workload."""
        return len(self.clips)

    @property
    def answered(self) -> int:
        """Uploads with at least one valid result."""
        return sum(c.outcome != "missing" for c in self.clips)

    @property
    def correct(self) -> int:
        """Uploads answered with the right person and student record."""
        return sum(c.outcome == "correct" for c in self.clips)

    @property
    def upload_failed(self) -> int:
        """Uploads whose PUT failed or that were never sent."""
        return sum(c.expected.uploaded_at is None for c in self.clips)

    def count(self, kind: str) -> int:
        """How many issues of one kind."""
        return sum(issue.kind == kind for issue in self.issues)

    def counts(self) -> dict[str, int]:
        """total, answered, correct and every issue kind, as integers."""
        totals = {"total": self.total, "answered": self.answered, "correct": self.correct,
                  "upload_failed": self.upload_failed}
        return {name: totals[name] if name in totals else self.count(name) for name in COUNT_FIELDS}


def normalise_year(year: str) -> str:
    """The year with the course's freshman/freshmen spelling difference removed."""
    cleaned = year.strip().lower()
    return YEAR_ALIASES.get(cleaned, cleaned)


def same_student(got: Student, want: Student) -> tuple[bool, bool]:
    """(equal, equal only thanks to the year normalisation)."""
    if got.name != want.name or got.major != want.major:
        return False, False
    if got.year == want.year:
        return True, False
    equal = normalise_year(got.year) == normalise_year(want.year)
    return equal, equal


def check(
    expected: Sequence[Expected],
    received: Iterable[Received],
    students: Mapping[str, Student],
    latency_limit_ms: float,
) -> Verdict:
    """Judge every expected upload against the received messages."""
    by_clip, issues, redelivered = accept(received, {e.clip_key for e in expected})
    clips = []
    for item in expected:
        verdict = judge_clip(item, by_clip.get(item.clip_key, []), students, latency_limit_ms)
        clips.append(verdict)
        issues.extend(_clip_issues(verdict, latency_limit_ms))
    notes = [NORMALISATION_NOTE, MAJORITY_NOTE]
    normalised = sum(c.normalised for c in clips)
    if normalised:
        notes.append(f"{normalised} answer(s) were judged correct only thanks to the freshman/freshmen rule.")
    if redelivered:
        notes.append(f"{redelivered} message(s) were delivered twice by SQS (same message id): counted once.")
    latencies = [c.latency_ms for c in clips if c.latency_ms is not None]
    return Verdict(
        tuple(clips),
        tuple(sorted(issues, key=lambda i: ISSUE_KINDS.index(i.kind))),
        tuple(notes),
        LatencyStats.of(latencies),
    )


def accept(
    received: Iterable[Received], clip_keys: set[str]
) -> tuple[dict[str, list[tuple[Result, Received]]], list[Issue], int]:
    """Sort messages by arrival, parse them and set aside malformed, duplicate and unexpected ones."""
    by_clip: dict[str, list[tuple[Result, Received]]] = {}
    issues: list[Issue] = []
    seen_messages: set[str] = set()
    seen_faces: set[tuple[str, int | None]] = set()
    redelivered = 0
    for message in sorted(received, key=lambda m: (m.received_at, m.message_id)):
        if message.message_id in seen_messages:
            redelivered += 1
            continue
        seen_messages.add(message.message_id)
        try:
            result = Result.from_json(message.body)
        except MalformedResultError as exc:
            issues.append(Issue("malformed", message.message_id, f"{exc}; body: {message.body[:BODY_EXCERPT]!r}"))
            continue
        if message.group_id != result.device_id:
            detail = f"MessageGroupId {message.group_id!r} but device_id {result.device_id!r} ({result.frame_key})"
            issues.append(Issue("wrong_group", result.clip_key, detail))
        face = (result.frame_key, result.face_index)
        if face in seen_faces:
            detail = f"second result for {result.frame_key} face {result.face_index} (message {message.message_id})"
            issues.append(Issue("duplicate", result.clip_key, detail))
        elif result.clip_key not in clip_keys:
            issues.append(Issue("unexpected", result.clip_key, f"a result for a clip this run did not send ({face})"))
        else:
            by_clip.setdefault(result.clip_key, []).append((result, message))
        seen_faces.add(face)
    return by_clip, issues, redelivered


def judge_clip(
    expected: Expected,
    results: Sequence[tuple[Result, Received]],
    students: Mapping[str, Student],
    latency_limit_ms: float,
) -> ClipVerdict:
    """The verdict on one upload from its results (in arrival order)."""
    if not results:
        detail = f"upload failed: {expected.upload_error}" if expected.upload_error else "no result received"
        return ClipVerdict(expected, "missing", None, None, None, False, 0, detail)
    latency = None
    if expected.uploaded_at is not None:
        latency = (results[0][1].received_at - expected.uploaded_at) * 1000
    answer = majority_name([result for result, _ in results])
    student = next((r.student for r, _ in results if r.name == answer and r.student is not None), None)
    correct, normalised, detail = _judge_answer(expected, answer, student, results, students)
    late = latency is not None and latency > latency_limit_ms
    outcome = "correct" if correct else "wrong"
    return ClipVerdict(expected, outcome, answer, student, latency, late, len(results), detail, normalised)


def majority_name(results: Sequence[Result]) -> str | None:
    """The most frequent person named (ties: first received); `unknown` only if no one was named."""
    faces = [r for r in results if r.name is not None]
    named = [r for r in faces if r.name != UNKNOWN] or faces
    votes = Counter(r.name for r in named)
    if not votes:
        return None
    top = max(votes.values())
    return next(r.name for r in named if votes[r.name] == top)


def per_video(verdict: Verdict) -> list[VideoRow]:
    """One row per source video, in order of first appearance."""
    rows: dict[str, list[ClipVerdict]] = {}
    for clip in verdict.clips:
        rows.setdefault(clip.expected.source, []).append(clip)
    return [
        VideoRow(
            source,
            clips[0].expected.persons,
            len(clips),
            sum(c.outcome != "missing" for c in clips),
            sum(c.outcome == "correct" for c in clips),
            sum(c.outcome == "wrong" for c in clips),
            sum(c.outcome == "missing" for c in clips),
            sum(c.late for c in clips),
        )
        for source, clips in rows.items()
    ]


def _judge_answer(
    expected: Expected,
    answer: str | None,
    student: Student | None,
    results: Sequence[tuple[Result, Received]],
    students: Mapping[str, Student],
) -> tuple[bool, bool, str]:
    """(correct, correct thanks to the year rule, what was wrong or right)."""
    accepted = " or ".join(expected.persons)
    if answer is None:
        return False, False, f"no face found in {len(results)} result(s); expected {accepted}"
    if answer not in expected.persons:
        return False, False, f"answered {answer!r}, expected {accepted}"
    want = students.get(answer)
    if want is None:
        return student is None, False, f"{answer} has no student record to compare"
    if student is None:
        reason = next((r.reason for r, _ in results if r.name == answer and r.reason), None)
        return False, False, f"{answer} recognised but no student record ({reason or 'no reason given'})"
    equal, normalised = same_student(student, want)
    if not equal:
        got, exp = f"{student.name}/{student.major}/{student.year}", f"{want.name}/{want.major}/{want.year}"
        return False, False, f"student record {got}, expected {exp}"
    return True, normalised, "year matched via freshman/freshmen" if normalised else ""


def _clip_issues(verdict: ClipVerdict, latency_limit_ms: float) -> list[Issue]:
    """The issues one clip verdict raises: missing, wrong, late."""
    key = verdict.expected.clip_key
    name = verdict.expected.name
    issues = []
    if verdict.outcome in ("missing", "wrong"):
        issues.append(Issue(verdict.outcome, key, f"{name}: {verdict.detail}"))
    if verdict.late:
        issues.append(
            Issue("late", key, f"{name}: first result after {verdict.latency_ms:.0f} ms > {latency_limit_ms:.0f} ms")
        )
    return issues
