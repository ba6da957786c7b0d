"""Attaching or replacing a lesson's video from its page (/me/videos/<lesson>/upload/): staff and
the course's instructor may, with the file transcoded by the worker (eager here); students and
other courses' instructors may not."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.factories import AdminFactory, InstructorFactory, UserFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory, LessonFactory
from tests.video.conftest import needs_ffmpeg
from tests.video.factories import video_transcoded
from video.models import LessonVideo

pytestmark = [pytest.mark.django_db, needs_ffmpeg]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload_url(lesson) -> str:
    return f"/me/videos/{lesson.external_id}/upload/"


@pytest.fixture
def post_file(django_capture_on_commit_callbacks):
    """POST a file to the upload page; the transcode enqueued on commit runs (eager)."""

    def post(client: Client, lesson, path):
        with path.open("rb") as file, django_capture_on_commit_callbacks(execute=True):
            return client.post(upload_url(lesson), {"file": file})

    return post


def test_staff_attach_a_video_from_the_lesson_page_and_learners_can_watch_it(
    clips, eager, post_file
):
    lesson = LessonFactory()
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=lesson.course)
    staff = signed_in(AdminFactory())

    # The lesson's page sends staff to the upload form while there is nothing to play.
    landing = staff.get(f"/me/videos/{lesson.external_id}/")
    assert landing.status_code == 302 and landing["Location"] == upload_url(lesson)
    form = staff.get(upload_url(lesson))
    assert form.status_code == 200
    assert "This lesson has no video yet." in form.content.decode()
    assert signed_in(learner).get(f"/me/videos/{lesson.external_id}/").status_code == 404

    response = post_file(staff, lesson, clips["720p"])

    assert response.status_code == 302 and response["Location"] == upload_url(lesson)
    page = staff.get(upload_url(lesson)).content.decode()
    assert "Uploaded. The video is being transcoded." in page
    assert 'data-video-status="ready"' in page
    video = LessonVideo.objects.get(lesson=lesson)
    assert video.status == "ready" and video.duration_seconds == pytest.approx(3, abs=0.2)
    assert signed_in(learner).get(f"/me/videos/{lesson.external_id}/").status_code == 200


def test_the_course_instructor_replaces_the_video(clips, eager, post_file):
    instructor = InstructorFactory()
    lesson = LessonFactory(course=CourseFactory(instructor=instructor))
    old = video_transcoded(lesson, clips["720p"])
    client = signed_in(instructor)
    player = client.get(f"/me/videos/{lesson.external_id}/").content.decode()
    assert 'data-action="manage-video"' in player

    assert post_file(client, lesson, clips["1080p"]).status_code == 302

    video = LessonVideo.objects.get(lesson=lesson)
    assert video.upload_id != old.upload_id
    assert video.status == "ready" and video.height == 1080
    assert video.duration_seconds == pytest.approx(5, abs=0.2)


def test_a_student_and_another_courses_instructor_cannot(clips, eager, post_file):
    lesson = LessonFactory(course=CourseFactory(instructor=InstructorFactory()))
    video = video_transcoded(lesson, clips["720p"])
    student = UserFactory()
    EnrollmentFactory(user=student, course=lesson.course)
    other = InstructorFactory()
    LessonFactory(course=CourseFactory(instructor=other))

    for user in (student, other):
        client = signed_in(user)
        assert client.get(upload_url(lesson)).status_code == 403
        assert post_file(client, lesson, clips["1080p"]).status_code == 403
    # The student still watches, without the link to replace it.
    player = signed_in(student).get(f"/me/videos/{lesson.external_id}/").content.decode()
    assert 'data-action="manage-video"' not in player
    after = LessonVideo.objects.get(lesson=lesson)
    assert (after.upload_id, after.status) == (video.upload_id, "ready")
    anonymous = Client().get(upload_url(lesson))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert signed_in(AdminFactory()).get("/me/videos/no-such-lesson/upload/").status_code == 404


def test_bad_uploads_are_refused_with_the_reason(clips, eager, post_file, settings, tmp_path):
    lesson = LessonFactory()
    staff = signed_in(AdminFactory())

    missing = staff.post(upload_url(lesson), {})
    assert missing.status_code == 400
    assert "Choose a video file to upload." in missing.content.decode()

    settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES = 1000
    large = post_file(staff, lesson, clips["720p"])
    assert large.status_code == 413
    assert "larger than the limit of 1,000 bytes" in large.content.decode()
    assert not LessonVideo.objects.filter(lesson=lesson).exists()

    settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES = 10 * 2**20
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video at all\n" * 20)
    assert post_file(staff, lesson, notes).status_code == 302
    page = staff.get(upload_url(lesson)).content.decode()
    assert 'data-video-status="failed"' in page
    assert LessonVideo.objects.get(lesson=lesson).failure_reason in page
