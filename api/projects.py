"""Projects of local businesses: what the fund grants to or invests in."""

from __future__ import annotations

from api import project_schemas, schemas
from api.auth import requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    decode_cursor,
    errors,
    get_or_404,
    page_out,
    user,
)
from foundation.transactions import atomic
from identity.roles import MANAGERS, own_scope, visible
from ledger import listings
from ledger.fund import projects
from ledger.fund.models import Project
from web.request import db_session

blp = Blueprint("projects", __name__, url_prefix="/api/v1", description="Place-creation projects.")


@blp.route("/projects", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(project_schemas.ProjectArgs, location="query")
@blp.response(200, schemas.page_schema(project_schemas.ProjectSchema, "ProjectPage"))
def list_projects(args):
    """List projects (a business sees its own)"""
    ok, business_id = own_scope(user(), args["business_id"])
    if not ok:
        return EMPTY_PAGE
    return page_out(
        listings.list_projects(
            db_session(),
            business_id=business_id,
            county_code=args["county_code"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/projects/<int:project_id>", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(404)
@blp.response(200, project_schemas.ProjectSchema)
def get_project(project_id):
    """Read a project"""
    project = db_session().get(Project, project_id)
    visible(user(), project.business_id if project else None, "Project", project_id)
    return get_or_404(db_session(), Project, project_id, "Project")


@blp.route("/projects", methods=["POST"])
@requires("business_member", *MANAGERS)
@errors(404, 413, 415, 422)
@blp.arguments(project_schemas.ProjectIn)
@blp.response(201, project_schemas.ProjectSchema)
def create_project(data):
    """Create a project: a business for itself, a manager for any business

    Only managers set the priority-area type (it decides which restricted money may fund it).
    """
    with atomic(db_session()) as session:
        return projects.create_project(
            session,
            actor=user(),
            business_id=data["business_id"],
            name=data["name"],
            town_code=data["town_code"],
            priority_type=data["priority_type"],
        )
