// librdkafka, Debian's librdkafka-dev headers: the client and its in-process mock cluster (for broker-less tests).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
