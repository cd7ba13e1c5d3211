"""Profiles (identity/organisations.py) and projects (ledger/fund/projects.py): the rules
the API and the console share."""

import pytest

from foundation.errors import NotFound, ValidationError
from identity import organisations
from ledger.fund import projects
from tests import factories as f


@pytest.fixture
def world(session):
    with f.tx(session):
        business = f.organisation(session, "business")
        other = f.organisation(session, "business")
        company = f.organisation(session, "company")
        w = {
            "business": business,
            "other": other,
            "company": company,
            "member": f.user(session, "business_member", business),
            "company_member": f.user(session, "company_member", company),
            "manager": f.manager(session, "NDC"),
        }
    return type("World", (), w)


def test_a_member_edits_its_own_profile_only(session, world):
    with f.tx(session):
        org = organisations.update_profile(
            session,
            actor=world.member,
            org=world.business,
            changes={"name": " 竹山茶工作室 ", "name_en": " ", "town_code": "10002010"},
        )
    assert (org.name, org.name_en, org.town_code, org.county_code) == (
        "竹山茶工作室",
        None,
        "10002010",
        "10002",
    )
    with pytest.raises(NotFound), f.tx(session):
        organisations.update_profile(
            session, actor=world.member, org=world.other, changes={"name": "x"}
        )
    with f.tx(session):  # a manager edits any
        organisations.update_profile(
            session, actor=world.manager, org=world.other, changes={"name": "丁"}
        )
    assert world.other.name == "丁"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "🌾🌾🌾"}, "name"),
        ({"name": "★ — ★"}, "name"),
        ({"name": "\u200b\u3000"}, "name"),
        ({"name": "2026"}, "name"),
        ({"name_en": "🍵"}, "name_en"),
        ({"town_code": "99999999"}, "town_code"),
        ({"ubn": "12345678"}, "ubn"),
    ],
)
def test_a_bad_profile_says_which_field_and_changes_nothing(session, world, changes, field):
    before = (world.business.name, world.business.town_code, world.business.ubn)
    with pytest.raises(ValidationError) as exc, f.tx(session):
        organisations.update_profile(
            session, actor=world.member, org=world.business, changes=changes
        )
    assert field in exc.value.fields
    session.refresh(world.business)
    assert (world.business.name, world.business.town_code, world.business.ubn) == before


def test_a_stale_profile_is_refused(session, world):
    read = world.business.version
    with f.tx(session):
        organisations.update_profile(
            session, actor=world.manager, org=world.business, changes={"name": "新"}
        )
    with pytest.raises(ValidationError) as exc, f.tx(session):
        organisations.update_profile(
            session,
            actor=world.member,
            org=world.business,
            changes={"name": "舊"},
            expected_version=read,
        )
    assert exc.value.extra["case"] == "stale_profile"
    session.refresh(world.business)
    assert world.business.name == "新"


def test_projects_of_a_business(session, world):
    with f.tx(session):
        project = projects.create_project(
            session, actor=world.member, business_id=None, name=" 茶園步道 ", town_code="10008040"
        )
    assert (project.business_id, project.name, project.county_code, project.priority_type) == (
        world.business.id,
        "茶園步道",
        "10008",
        None,
    )
    for kwargs, field in (
        ({"business_id": world.other.id}, "business_id"),  # not its own
        ({"priority_type": "agricultural"}, "priority_type"),  # the managers' to set
        ({"town_code": "1"}, "town_code"),
        ({"name": ""}, "name"),
    ):
        args = {"business_id": None, "name": "x", "town_code": "10008040", **kwargs}
        with pytest.raises(ValidationError) as exc, f.tx(session):
            projects.create_project(session, actor=world.member, **args)
        assert field in exc.value.fields
    with pytest.raises(ValidationError), f.tx(session):  # companies have no projects
        projects.create_project(
            session, actor=world.company_member, business_id=None, name="x", town_code="10008040"
        )
    with pytest.raises(ValidationError), f.tx(session):  # a manager names the business
        projects.create_project(
            session, actor=world.manager, business_id=None, name="x", town_code="10008040"
        )
    with f.tx(session):
        managed = projects.create_project(
            session,
            actor=world.manager,
            business_id=world.other.id,
            name="漁港",
            town_code="10008040",
            priority_type="agricultural",
        )
    assert (managed.business_id, managed.priority_type) == (world.other.id, "agricultural")


@pytest.mark.parametrize("name", ["🌾🌾", "---", "\u200b", "  ★ ", "123"])
def test_a_registration_named_without_a_letter_stores_nothing(session, name):
    before = session.query(organisations.Organisation).count()
    with pytest.raises(ValidationError) as exc, f.tx(session):
        organisations.register_organisation(
            session,
            kind="business",
            name=name,
            name_en=None,
            ubn="04595257",
            town_code="10008040",
            contact_email="owner@rice.example.tw",
            contact_name="王小明",
        )
    assert exc.value.reason == "name_without_letters" and list(exc.value.fields) == ["name"]
    assert session.query(organisations.Organisation).count() == before


@pytest.mark.parametrize("name", ["米粉工坊 🌾", "7-Eleven", "ＡＢＣ", "丁"])
def test_a_name_with_a_letter_or_a_cjk_character_is_a_name(name):
    assert organisations.checked_name(f" {name} ") == name
