// Counts the books listed, so the page can say how many there are.
function countBooks(list) {
  const items = list.querySelectorAll("li");
  return items.length;
}

document.addEventListener("DOMContentLoaded", function () {
  const list = document.querySelector("ul");
  const count = countBooks(list);
  document.title = document.title + " (" + count + " books)";
});
