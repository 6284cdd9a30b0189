extension WebApp {
    static let indexHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FinFlow</title>
<link rel="stylesheet" href="/app/app.css">
<script src="/app/app.js" defer></script>
</head>
<body>
<header>
  <h1>FinFlow</h1>
  <nav id="nav" hidden>
    <a href="#dashboard">Dashboard</a>
    <a href="#statements">Statements</a>
    <a href="#live">Live anomalies</a>
    <button id="sign-out" type="button">Sign out</button>
  </nav>
</header>
<main>
  <section id="sign-in">
    <h2>Sign in</h2>
    <form id="sign-in-form">
      <label>Email <input id="email" name="email" type="email" autocomplete="username" required></label>
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
      <label id="code-label" hidden>Authenticator code <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"></label>
      <button type="submit">Sign in</button>
      <p id="sign-in-error" class="error" role="alert"></p>
    </form>
  </section>
  <section id="dashboard" hidden>
    <h2>Dashboard <small id="range"></small></h2>
    <div id="kpis" class="tiles"></div>
    <figure><figcaption>Revenue and expenses</figcaption><div id="flow-chart" class="chart"></div></figure>
    <figure><figcaption>Cash</figcaption><div id="cash-chart" class="chart"></div></figure>
    <div class="columns">
      <div><h3>Largest customers</h3><ol id="customers"></ol></div>
      <div><h3>Categories</h3><ol id="categories"></ol></div>
    </div>
  </section>
  <section id="statements" hidden>
    <h2>Statements</h2>
    <div class="columns">
      <div><h3>Income statement <small id="income-range"></small></h3><table id="income"></table></div>
      <div><h3>Balance sheet <small id="balance-date"></small></h3><table id="balance"></table></div>
    </div>
  </section>
  <section id="live" hidden>
    <h2>Live anomalies <small id="feed-status" data-testid="feed-status">connecting</small></h2>
    <ol id="anomalies" class="feed"></ol>
  </section>
</main>
</body>
</html>
"""#
}
