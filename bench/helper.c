#include <stdio.h>
int main(void) {
  fputs("{\"Version\":1,\"AccessKeyId\":\"ASIAPERF\",\"SecretAccessKey\":\"secret\",\"SessionToken\":\"token\",\"Expiration\":\"2099-01-01T00:00:00Z\"}\n", stdout);
  return 0;
}
