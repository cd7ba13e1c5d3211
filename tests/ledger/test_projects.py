"""Projects (ledger/projects.py): the rules the API and the console share."""

import pytest

from ledger import projects
from ledger.errors import ValidationError
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
