#include "devtools/usercode.h"

#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/banned.h"

void usercode_generate(char out[USERCODE_LEN + 1])
{
    const size_t n = sizeof(USERCODE_ALPHABET) - 1;
    for (size_t i = 0; i < USERCODE_LEN; i++)
        out[i] = USERCODE_ALPHABET[crypto_random_range(0, n - 1)];
    out[USERCODE_LEN] = '\0';
}

int usercode_normalize(const char *in, char out[USERCODE_LEN + 1])
{
    char code[USERCODE_LEN + 1];
    size_t n = 0;
    if (!in || strlen(in) > USERCODE_INPUT_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == '-' || c == ' ' || c == '\t')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!(c >= 'A' && c <= 'Z') || !strchr(USERCODE_ALPHABET, c) || n == USERCODE_LEN)
            return BE_INVALID_PARAMETER_VALUE;
        code[n++] = c;
    }
    if (n != USERCODE_LEN)
        return BE_INVALID_PARAMETER_VALUE;
    code[n] = '\0';
    memcpy(out, code, sizeof(code));
    return BE_OK;
}

void usercode_display(const char *code, char out[USERCODE_DISPLAY_LEN + 1])
{
    memcpy(out, code, 4);
    out[4] = '-';
    memcpy(out + 5, code + 4, 4);
    out[9] = '\0';
}
