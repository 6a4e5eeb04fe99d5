import gzip
import io
import os

import boto3

EXPORT_BUCKET = "acme-data-exports"

session = boto3.session.Session(
    aws_access_key_id="@@akia:pipeline-export@@",
    aws_secret_access_key="@@awssecret:pipeline-export@@",
    region_name="eu-central-1",
)

# The partner bucket is written with an assumed role; keys come from the instance profile.
partner = boto3.client(
    "s3",
    aws_access_key_id=os.environ.get("PARTNER_AWS_ACCESS_KEY_ID"),
    aws_secret_access_key=os.environ.get("PARTNER_AWS_SECRET_ACCESS_KEY"),
)

DOCS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def export_rows(name: str, rows: list[dict]) -> str:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        for row in rows:
            gz.write((",".join(str(v) for v in row.values()) + "\n").encode())
    key = f"exports/{name}.csv.gz"
    session.client("s3").put_object(Bucket=EXPORT_BUCKET, Key=key, Body=buf.getvalue())
    return key
