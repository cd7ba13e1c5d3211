// On a phone, a table whose rows carry actions stacks (console.css): each cell then shows
// its column's heading before it, copied here from the table's <thead>. A cell spanning
// several columns gets none.
document.querySelectorAll("table").forEach((table) => {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  table.querySelectorAll("tbody tr").forEach((row) => {
    let column = 0;
    [...row.children].forEach((cell) => {
      const head = heads[column];
      if (cell.colSpan === 1 && head && head !== "#" && !cell.dataset.label) {
        cell.dataset.label = head;
      }
      column += cell.colSpan;
    });
  });
});
