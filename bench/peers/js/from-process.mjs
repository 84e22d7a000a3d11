// The AWS SDK for JavaScript v3 resolving a profile's credential_process once.
import { fromProcess } from "@aws-sdk/credential-providers";

const credentials = await fromProcess({ profile: process.argv[2] })();
console.log(credentials.accessKeyId);
