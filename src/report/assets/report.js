// xai report: sortable tables (click a column head) and the filters of the units table. Plain DOM, no libraries,
// no network; the page works without it (rows are in the HTML, sorted by IoU).
(function () {
  'use strict';

  function cellValue(row, i) {
    var td = row.cells[i];
    if (!td) return '';
    var v = td.getAttribute('data-v');
    return v !== null ? v : td.textContent.trim();
  }

  function isNumeric(values) {
    return values.length > 0 && values.every(function (v) { return v === '' || (!isNaN(Number(v)) && v.trim() !== ''); });
  }

  function sortTable(table, col, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var values = rows.map(function (r) { return cellValue(r, col); });
    var numeric = isNumeric(values);
    var order = rows.map(function (r, i) { return { r: r, v: values[i], i: i }; });
    order.sort(function (a, b) {
      var c;
      if (numeric) c = (Number(a.v) || 0) - (Number(b.v) || 0);
      else c = a.v.localeCompare(b.v, undefined, { numeric: true, sensitivity: 'base' });
      return (dir === 'ascending' ? c : -c) || a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (o) { frag.appendChild(o.r); });
    body.appendChild(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, j) {
      if (j === col) th.setAttribute('aria-sort', dir);
      else th.removeAttribute('aria-sort');
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    if (!table.tHead) return;
    var heads = table.tHead.rows[0].cells;
    // when some heads declare data-sort, only those sort
    var declared = table.tHead.querySelector('th[data-sort]') !== null;
    Array.prototype.forEach.call(heads, function (th, col) {
      if (declared && !th.hasAttribute('data-sort')) return;
      th.classList.add('sorthead');
      th.setAttribute('tabindex', '0');
      th.title = 'sort by ' + th.textContent.trim();
      function go() {
        var cur = th.getAttribute('aria-sort');
        var first = th.getAttribute('data-sort') === 'text' ? 'ascending' : 'descending';
        sortTable(table, col, cur === first ? (first === 'ascending' ? 'descending' : 'ascending') : first);
      }
      th.addEventListener('click', go);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll('.filters[data-for]'), function (bar) {
    var table = document.getElementById(bar.getAttribute('data-for'));
    if (!table) return;
    var controls = bar.querySelectorAll('[data-filter]');
    var count = bar.querySelector('[data-count]');
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    function apply() {
      var f = {};
      Array.prototype.forEach.call(controls, function (c) {
        f[c.getAttribute('data-filter')] = c.type === 'checkbox' ? c.checked : c.value.trim();
      });
      var minIou = f.iou === '' || f.iou === undefined ? -Infinity : Number(f.iou);
      var label = (f.label || '').toLowerCase();
      var shown = 0;
      rows.forEach(function (r) {
        var ok =
          (!f.layer || r.getAttribute('data-layer') === f.layer) &&
          (!f.category || r.getAttribute('data-category') === f.category) &&
          (!label || r.getAttribute('data-label').toLowerCase().indexOf(label) >= 0) &&
          !(Number(r.getAttribute('data-iou')) < minIou) &&
          (!f.interpretable || r.getAttribute('data-interpretable') === '1');
        r.hidden = !ok;
        if (ok) shown++;
      });
      if (count) count.textContent = shown + ' of ' + rows.length + ' units';
    }
    Array.prototype.forEach.call(controls, function (c) {
      c.addEventListener('input', apply);
      c.addEventListener('change', apply);
    });
    apply();
  });
})();
