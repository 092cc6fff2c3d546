import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django_celery_beat.tzcrontab import TzAwareCrontab

from notifications import services as notification_services
from notifications.models import Message
from postmortems import reviews, tasks
from postmortems.models import (
    ActionItem,
    PostmortemReminder,
    PostmortemSettings,
    ReviewDigest,
    WeeklyReview,
)
from postmortems.schedule import weekly_review_crontab
from tests.incidents.factories import UserFactory

from .factories import ActionItemFactory, PostmortemFactory, TeamFactory, manager_user

TUESDAY = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def _deliver_outbox():
    """Send every queued message now, as the outbox's delivery task would."""
    for message_id in Message.objects.filter(status=Message.Status.PENDING).values_list(
        "pk", flat=True
    ):
        notification_services.message_deliver(message_id=message_id)


BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _two_owners_one_manager():
    manager = manager_user(email="manager@example.com")
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    TeamFactory(name="Payments", managers=[manager], members=[alice])
    team = manager.managed_teams.get()
    ActionItemFactory(owner=alice, team=team, due_date=datetime.date(2026, 3, 1))
    ActionItemFactory(owner=bob, due_date=datetime.date(2026, 3, 20))
    ActionItemFactory(owner=bob, status=ActionItem.Status.DONE)
    return manager, alice, bob


def _crontab(zone=datetime.UTC):
    """Return the default weekly review schedule as django-celery-beat evaluates it in `zone`."""
    return TzAwareCrontab(tz=zone, **weekly_review_crontab())


@pytest.mark.django_db
def test_run_twice_one_review_one_digest_each():
    _two_owners_one_manager()

    with time_machine.travel(TUESDAY, tick=False):
        tasks.weekly_review_task()
        tasks.weekly_review_task()
    _deliver_outbox()

    assert WeeklyReview.objects.count() == 1
    assert sorted(message.to[0] for message in mail.outbox) == [
        "alice@example.com",
        "bob@example.com",
        "manager@example.com",
    ]


@pytest.mark.django_db
def test_review_week_is_its_monday():
    with time_machine.travel(TUESDAY, tick=False):
        review, created = reviews.weekly_review_start()

    assert review.week_start == datetime.date(2026, 3, 9)
    assert created is True


@pytest.mark.django_db
def test_review_lists_open_items_and_marks_overdue():
    _two_owners_one_manager()

    with time_machine.travel(TUESDAY, tick=False):
        review, _ = reviews.weekly_review_start()

    assert review.entries.count() == 2
    assert review.entries.filter(was_overdue=True).count() == 1


@pytest.mark.django_db
def test_manager_digest_lists_team_items():
    _two_owners_one_manager()

    with time_machine.travel(TUESDAY, tick=False):
        tasks.weekly_review_task()
    _deliver_outbox()

    body = next(message.body for message in mail.outbox if message.to == ["manager@example.com"])
    assert "Action items of your teams (1)" in body
    assert "OVERDUE" in body


@pytest.mark.django_db
def test_digest_skipped_without_email():
    ActionItemFactory(owner=UserFactory(email=""))

    with time_machine.travel(TUESDAY, tick=False):
        tasks.weekly_review_task()
    _deliver_outbox()

    assert ReviewDigest.objects.get().message.status == Message.Status.SKIPPED
    assert mail.outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_one_review_one_digest_each():
    _two_owners_one_manager()
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            with time_machine.travel(TUESDAY, tick=False):
                tasks.weekly_review_task()
        except Exception as error:  # noqa: BLE001 - reported by the assert below.
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _deliver_outbox()

    assert errors == []
    assert WeeklyReview.objects.count() == 1
    assert ReviewDigest.objects.count() == 3
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_beat_down_at_schedule_runs_once_on_return():
    # Last run the Monday before; beat was down through Monday 9 March and returns on Tuesday.
    last_run = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    schedule = _crontab()

    with time_machine.travel(TUESDAY, tick=False):
        due, _ = schedule.is_due(last_run)
        tasks.weekly_review_task()
        due_again, _ = schedule.is_due(TUESDAY)

    assert due is True
    assert due_again is False
    assert list(WeeklyReview.objects.values_list("week_start", flat=True)) == [
        datetime.date(2026, 3, 9)
    ]


def _simulate_beat(start, end, schedule):
    """Tick beat every 30 minutes from start to end, running the task whenever it is due."""
    last_run = start
    now = start
    while now <= end:
        with time_machine.travel(now, tick=False):
            due, _ = schedule.is_due(last_run)
            if due:
                tasks.weekly_review_task()
                last_run = now
        now += datetime.timedelta(minutes=30)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "mondays"),
    [
        # Clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026 in Berlin.
        (datetime.date(2026, 3, 17), ["2026-03-23", "2026-03-30", "2026-04-06"]),
        (datetime.date(2026, 10, 13), ["2026-10-19", "2026-10-26", "2026-11-02"]),
    ],
)
def test_dst_weeks_neither_skipped_nor_doubled(start, mondays):
    PostmortemSettings.objects.update(review_time_zone=BERLIN)
    schedule = _crontab(zone=BERLIN)
    begin = datetime.datetime.combine(start, datetime.time(0, 0), tzinfo=datetime.UTC)

    _simulate_beat(begin, begin + datetime.timedelta(days=21), schedule)

    reviews_made = list(WeeklyReview.objects.order_by("week_start"))
    assert [review.week_start.isoformat() for review in reviews_made] == mondays
    assert {review.started_at.astimezone(BERLIN).time() for review in reviews_made} == {
        datetime.time(9, 0)
    }


@pytest.mark.django_db
def test_week_start_counts_in_review_zone():
    # Sunday 23:30 UTC is already Monday in Berlin.
    now = datetime.datetime(2026, 3, 22, 23, 30, tzinfo=datetime.UTC)
    PostmortemSettings.objects.update(review_time_zone=BERLIN)

    with time_machine.travel(now, tick=False):
        review, _ = reviews.weekly_review_start()

    assert review.week_start == datetime.date(2026, 3, 23)


@pytest.mark.django_db
def test_complete_marks_done():
    manager = manager_user()
    with time_machine.travel(TUESDAY, tick=False):
        review, _ = reviews.weekly_review_start()

    review = reviews.weekly_review_complete(actor=manager, review=review, notes="All walked.")

    assert review.completed_by == manager


REMINDER_DUE = datetime.datetime(2026, 3, 3, 14, 0, tzinfo=datetime.UTC)


def _postmortem_due(author_email="author@example.com"):
    author = UserFactory(email=author_email)
    return PostmortemFactory(author=author, due_at=REMINDER_DUE)


@pytest.mark.django_db
def test_no_reminder_before_window():
    _postmortem_due()
    before = PostmortemSettings.objects.get().reminder_before

    with time_machine.travel(REMINDER_DUE - before - datetime.timedelta(minutes=1), tick=False):
        sent = reviews.postmortem_deadline_sweep()

    assert sent == 0


@pytest.mark.django_db
def test_due_soon_and_overdue_reminders_once_each():
    _postmortem_due()
    before = PostmortemSettings.objects.get().reminder_before
    times = [
        REMINDER_DUE - before + datetime.timedelta(minutes=1),
        REMINDER_DUE - datetime.timedelta(minutes=5),
        REMINDER_DUE + datetime.timedelta(minutes=5),
        REMINDER_DUE + datetime.timedelta(hours=3),
    ]

    for moment in times:
        with time_machine.travel(moment, tick=False):
            tasks.postmortem_deadline_sweep_task()
            _deliver_outbox()

    kinds = sorted(PostmortemReminder.objects.values_list("kind", flat=True))
    assert kinds == [PostmortemReminder.Kind.DUE_SOON, PostmortemReminder.Kind.OVERDUE]
    assert len(mail.outbox) == 2
    assert "overdue" in mail.outbox[1].subject


@pytest.mark.django_db
def test_submitted_postmortem_gets_no_reminder():
    postmortem = _postmortem_due()
    postmortem.submitted_at = REMINDER_DUE
    postmortem.save()

    with time_machine.travel(REMINDER_DUE + datetime.timedelta(hours=1), tick=False):
        sent = reviews.postmortem_deadline_sweep()

    assert sent == 0
