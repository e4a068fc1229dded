// Draws every figure of a page from the JSON embedded in it, makes tables sortable and the
// county list searchable. Nothing here reaches the network: the mode bar's upload button is
// removed and plotly.js speaks Chinese through its own zh-CN locale, shipped beside it.
(function () {
  var config = {
    locale: 'zh-CN', displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ['sendChartToCloud', 'sendDataToCloud', 'editInChartStudio', 'toImage2',
                             'lasso2d', 'select2d', 'toggleSpikelines'],
    toImageButtonOptions: {format: 'png', scale: 2}
  };
  var schoolData = {};   // each school table's JSON by the table's id, parsed once for its figure and itself
  function schoolsOf(table) {
    if (!schoolData[table]) {
      schoolData[table] = JSON.parse(document.querySelector('script.school-rows[data-target="' + table + '"]').textContent);
    }
    return schoolData[table];
  }
  // A figure of school positions (dashboards/figures.py, school_positions) gives each view's
  // level, indicator and lines; its points are the school table's rows: the schools of the level
  // with a value, lowest first (ties in the table's order), coloured below the standard, below
  // the county value, or at or above both.
  function placeSchools(fig) {
    var p = fig.points, rows = schoolsOf(p.table).rows;
    p.views.forEach(function (view, k) {
      var at = 4 + view.indicator, trace = fig.data[k];
      var shown = rows.filter(function (r) { return r[1] === view.level && r[at] !== null; });
      shown.sort(function (a, b) { return a[at] - b[at]; });
      trace.x = shown.map(function (r) { return r[at]; });
      trace.y = shown.map(function (r) { return r[0]; });
      trace.customdata = shown.map(function (r) { return r[3]; });
      trace.marker.color = trace.x.map(function (v) {
        return p.colours[v < view.threshold ? 0 : (v < view.county_value ? 1 : 2)];
      });
    });
  }
  document.querySelectorAll('script.figure[type="application/json"]').forEach(function (node) {
    var fig = JSON.parse(node.textContent);
    if (fig.points) placeSchools(fig);
    Plotly.newPlot(node.dataset.target, fig.data, fig.layout, config);
  });
  // Tables' rows, from their JSON (dashboards/pages.py, table): each cell's HTML and class, its
  // sort value where it differs from the text shown, and in a table of cards its column's name.
  // A cell given as a string is its HTML alone: sorted by the text shown, no class.
  document.querySelectorAll('script.table-rows[type="application/json"]').forEach(function (node) {
    var d = JSON.parse(node.textContent), body = node.previousElementSibling.tBodies[0];
    d.rows.forEach(function (r) {
      var row = body.insertRow();
      r.forEach(function (c, i) {
        if (typeof c === 'string') c = [c, '', ''];
        var td = row.insertCell(), cls = (c[2] + (d.text[i] ? ' text' : '')).trim();
        td.innerHTML = c[0];
        if (cls) td.className = cls;
        if (c[1] && c[1] !== td.textContent) td.dataset.v = c[1];
        if (d.labels) td.dataset.label = d.labels[i];
      });
    });
  });
  // The school table's rows, from their JSON (dashboards/pages.py, _school_table): each value
  // against its standard and 85% of it, as the school rule compares them.
  function cell(row, text, cls, v) {
    var td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    if (v !== undefined) td.dataset.v = v;
  }
  // two decimals with thousands separators, rounded as the rest of the page is (Python's format):
  // a value exactly halfway (8.125) goes to the even digit (8.12), where toFixed goes up
  function decimals(v) {
    var s = v.toFixed(2), exact = v.toFixed(20), cut = exact.indexOf('.') + 3;
    if (exact.slice(cut) === '500000000000000000' && +exact.charAt(cut - 1) % 2 === 0) s = exact.slice(0, cut);
    var parts = s.split('.');
    return parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + parts[1];
  }
  document.querySelectorAll('script.school-rows[type="application/json"]').forEach(function (node) {
    var d = schoolsOf(node.dataset.target), body = document.getElementById(node.dataset.target).tBodies[0];
    d.rows.forEach(function (r) {
      var row = body.insertRow(), level = r[1], kind = r[2], thresholds = d.thresholds[level];
      cell(row, r[0], 'text');
      cell(row, d.levels[level], 'text', level);
      cell(row, d.kinds[kind] || kind, 'text', kind);
      cell(row, r[3].toLocaleString('en-US'), '', r[3]);
      for (var k = 0; k < thresholds.length; k++) {
        var v = r[4 + k], thr = thresholds[k];
        if (v === null || thr === null) { cell(row, '—', 'missing', ''); continue; }
        var cls = v >= thr * (1 - d.tolerance) ? 'pass' : (v >= d.floor_share * thr * (1 - d.tolerance) ? 'fail' : 'floor');
        cell(row, decimals(v), cls, v);
      }
      var met = r[4 + thresholds.length], ok = r[5 + thresholds.length];
      cell(row, String(met), '', met);
      cell(row, ok ? '是' : (ok === false ? '否' : '—'), ok ? 'pass' : 'fail', ok === null ? '' : String(ok));
    });
  });
  document.querySelectorAll('table.sortable th').forEach(function (th) {
    th.addEventListener('click', function () {
      // the column within its own table (a page has several tables)
      var index = th.cellIndex, table = th.closest('table'), body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.order !== 'asc';
      rows.sort(function (a, b) {
        var x = a.cells[index].dataset.v || a.cells[index].textContent;
        var y = b.cells[index].dataset.v || b.cells[index].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'zh-CN');
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? 'asc' : 'desc';
    });
  });
  var search = document.getElementById('search');
  if (search) {
    search.addEventListener('input', function () {
      var q = search.value.trim();
      document.querySelectorAll('.province-group').forEach(function (group) {
        var shown = 0;
        group.querySelectorAll('a[data-search]').forEach(function (a) {
          var hit = !q || a.dataset.search.indexOf(q) >= 0;
          a.style.display = hit ? '' : 'none';
          shown += hit ? 1 : 0;
        });
        group.style.display = shown ? '' : 'none';
      });
    });
  }
})();
