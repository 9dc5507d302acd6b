(() => {
  const seconds = Number(document.body.dataset.refresh);
  if (!(seconds > 0)) return;
  let tag = null;
  const again = async () => {
    try {
      const headers = { Accept: "text/html" };
      if (tag) headers["If-None-Match"] = tag;
      const answer = await fetch(location.href, { headers, cache: "no-store" });
      if (answer.status === 200) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById("answer");
        if (fresh) document.getElementById("answer").replaceWith(fresh);
        tag = answer.headers.get("ETag");
      }
    } catch {
      // Unreachable for now: the next turn asks again.
    }
    setTimeout(again, seconds * 1000);
  };
  setTimeout(again, seconds * 1000);
})();
