"""botocore resolving a profile's credentials once (what boto3 and the AWS CLI v1 do)."""
import sys

import botocore.session

credentials = botocore.session.Session(profile=sys.argv[1]).get_credentials().get_frozen_credentials()
print(credentials.access_key)
