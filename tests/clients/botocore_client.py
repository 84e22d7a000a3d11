"""Resolve credentials the way botocore does in a container: its default chain, with only
AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN set (no profile files).
Prints which provider answered and the access key id; exits 1 when nothing resolved."""
import sys

import botocore.session

session = botocore.session.get_session()
credentials = session.get_credentials()
if credentials is None:
    print("no credentials")
    sys.exit(1)
frozen = credentials.get_frozen_credentials()
print(credentials.method, frozen.access_key)
