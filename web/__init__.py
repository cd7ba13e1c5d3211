"""What both faces share and that needs Flask: the request's database session, the input
guard, problem documents and the last-resort handler. Imports the domain, never a face."""
