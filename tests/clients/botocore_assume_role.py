"""Resolve the profile $1 with botocore's own credential chain (its AssumeRoleProvider), from the
config files and AWS_ENDPOINT_URL_STS in the environment, and print the access key id it got: the
oracle tests/roles.rs compares credbox's AssumeRole request with."""
import sys

import botocore.session

credentials = botocore.session.Session(profile=sys.argv[1]).get_credentials().get_frozen_credentials()
print(credentials.access_key)
