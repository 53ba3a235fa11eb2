#include <stdio.h>
int main(void){puts("SKIPPED: not written yet");return 77;}
