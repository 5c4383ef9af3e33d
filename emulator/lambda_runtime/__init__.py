"""Our Lambda service: awslambdaric worker processes behind a Runtime API, with AWS's semantics."""
