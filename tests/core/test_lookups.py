"""`any_of`: "column is one of these values" as one array parameter on PostgreSQL."""

import pytest

from accounts.models import User
from core.lookups import any_of
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

ODD = ['quo"te', "back\\slash", "{brace,comma}", "NULL", " padded ", ""]


def test_any_of_finds_exactly_the_rows_with_those_ids_or_that_text():
    users = [UserFactory(external_id=text) for text in ODD]
    UserFactory(external_id="other")

    by_text = User.objects.filter(any_of("external_id", [*ODD, "missing"]))
    by_id = User.objects.filter(any_of("pk", [users[0].pk, users[2].pk, 10**12]))

    assert sorted(by_text.values_list("external_id", flat=True)) == sorted(ODD)
    assert sorted(by_id.values_list("pk", flat=True)) == [users[0].pk, users[2].pk]
    assert not User.objects.filter(any_of("pk", [])).exists()
