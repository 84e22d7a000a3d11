// Resolve credentials with the AWS SDK for JavaScript v3's HTTP provider, which reads
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN.
import { fromHttp } from "@aws-sdk/credential-provider-http";

try {
  const credentials = await fromHttp({})();
  console.log("container-role", credentials.accessKeyId);
} catch (error) {
  console.log(`failed: ${error.name}: ${error.message}`);
  process.exit(1);
}
