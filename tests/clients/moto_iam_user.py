"""Create an IAM user allowed to assume roles in moto's server at $1, and print its access key as
JSON. Spends exactly three unauthenticated actions (CreateUser, PutUserPolicy, CreateAccessKey):
start the server with INITIAL_NO_AUTH_ACTION_COUNT=3, and every later request must be signed by
a key moto knows (tests/roles.rs)."""
import json
import sys

import botocore.session

session = botocore.session.get_session()
iam = session.create_client(
    "iam",
    region_name="us-east-1",
    endpoint_url=sys.argv[1],
    aws_access_key_id="AKIAUNUSED00000000",
    aws_secret_access_key="unused",
)
iam.create_user(UserName="deployer")
iam.put_user_policy(
    UserName="deployer",
    PolicyName="assume",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    ),
)
key = iam.create_access_key(UserName="deployer")["AccessKey"]
print(json.dumps({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}))
