// Waiting on something outside the browser (a process, the engine), with a
// deadline and a message that says what never happened. A check that throws
// ends the wait at once: it knows the answer will never come.

const CHECK_EVERY_MS = 250;

export async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
  }
}
