"""A door camera, written as a course project: snapshots uploaded to S3 are announced on SNS, recorded in DynamoDB,
rung on a FIFO chime queue, counted from the table's stream, reported by a schedule through Step Functions, and
listed by a REST API and a function URL (both on the alias `live`). `deploy.py` puts it on an endpoint with boto3."""
