using System.Runtime.CompilerServices;
using System.Security.Claims;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.JSInterop;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// The circuit handler without a browser: the real AutoSignOut services, the real signal processor and Blazor's own
/// <see cref="ServerAuthenticationStateProvider"/>; only the browser end (navigation manager, JS runtime) is a fake,
/// since there is no browser here. The browser tests cover the same paths end to end.
/// </summary>
[TestClass]
public sealed class CircuitHandlerTests
{
    [TestMethod]
    public async Task A_signal_for_the_session_makes_the_circuit_anonymous_and_sends_the_browser_to_the_signed_out_page()
    {
        await using var circuit = TestCircuit.Create(o => o.SignedOutPath = "/signed-out");
        circuit.Open(User("alice", "s1"));
        Assert.AreSame(circuit.Handler.Connection, circuit.Registry.FindMatches(null, [ConnectionKey.Session("s1")], DateTimeOffset.MaxValue).Single());
        Assert.AreEqual("circuit", circuit.Handler.Connection!.Kind);

        await circuit.SignOut.SignOutSessionAsync("s1", "password_changed");

        var state = await circuit.Authentication.GetAuthenticationStateAsync();
        Assert.IsFalse(state.User.Identity!.IsAuthenticated, "The circuit's authentication state is anonymous.");
        Assert.AreEqual("location.replace", circuit.Js.Identifier);
        Assert.AreEqual("https://app.test/base/signed-out?reason=password_changed&source=application", circuit.Js.Arguments.Single());
        Assert.IsTrue(circuit.Handler.Connection.IsSignedOut);
        Assert.IsTrue(circuit.Handler.Connection.SignOutCompleted);
    }

    [TestMethod]
    public async Task Other_sessions_and_users_are_left_alone_and_sign_out_everywhere_reaches_every_session_of_the_user()
    {
        await using var alice1 = TestCircuit.Create();
        var services = alice1.Services;
        await using var alice2 = TestCircuit.Create(services: services);
        await using var bob = TestCircuit.Create(services: services);
        alice1.Open(User("alice", "a1"));
        alice2.Open(User("alice", "a2"));
        bob.Open(User("bob", "b1"));

        await alice1.SignOut.SignOutSessionAsync("a1");
        Assert.IsTrue(alice1.Handler.IsSignedOut);
        Assert.IsFalse(alice2.Handler.IsSignedOut);
        Assert.IsFalse(bob.Handler.IsSignedOut);

        await alice1.SignOut.SignOutEverywhereAsync("alice");
        Assert.IsTrue(alice2.Handler.IsSignedOut);
        Assert.IsFalse(bob.Handler.IsSignedOut);
        Assert.IsTrue((await bob.Authentication.GetAuthenticationStateAsync()).User.Identity!.IsAuthenticated);
    }

    [TestMethod]
    public async Task Inbound_activity_of_a_signed_out_circuit_never_reaches_the_app()
    {
        await using var circuit = TestCircuit.Create();
        circuit.Open(User("alice", "s1"));
        var reached = 0;
        var inbound = circuit.Handler.CreateInboundActivityHandler(_ =>
        {
            reached++;
            return Task.CompletedTask;
        });
        var activity = (CircuitInboundActivityContext)RuntimeHelpers.GetUninitializedObject(typeof(CircuitInboundActivityContext));
        await inbound(activity);
        Assert.AreEqual(1, reached);

        await circuit.SignOut.SignOutSessionAsync("s1");

        // Refused by throwing, which makes Blazor terminate the circuit.
        Assert.ThrowsExactly<InvalidOperationException>(() => inbound(activity));
        Assert.AreEqual(1, reached);
    }

    [TestMethod]
    public async Task A_signed_out_circuit_refuses_to_reconnect()
    {
        await using var circuit = TestCircuit.Create();
        circuit.Open(User("alice", "s1"));
        await circuit.SignOut.SignOutSessionAsync("s1");

        var circuitObject = (Circuit)RuntimeHelpers.GetUninitializedObject(typeof(Circuit));
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => circuit.Handler.OnConnectionUpAsync(circuitObject, CancellationToken.None));
    }

    [TestMethod]
    public async Task A_circuit_opened_after_its_session_was_revoked_is_signed_out_at_once()
    {
        await using var circuit = TestCircuit.Create();
        await circuit.SignOut.SignOutSessionAsync("s1");

        // Credentials issued before the revocation (the negotiate went through just before it).
        circuit.Open(User("alice", "s1"), issuedAt: DateTimeOffset.UtcNow.AddSeconds(-5));

        Assert.IsTrue(circuit.Handler.IsSignedOut);
        Assert.IsFalse((await circuit.Authentication.GetAuthenticationStateAsync()).User.Identity!.IsAuthenticated);
    }

    [TestMethod]
    public async Task Anonymous_circuits_are_not_registered_and_closing_a_circuit_unregisters_it()
    {
        await using var anonymous = TestCircuit.Create();
        anonymous.Open(new ClaimsPrincipal(new ClaimsIdentity()));
        Assert.IsNull(anonymous.Handler.Connection);
        Assert.AreEqual(0, anonymous.Registry.Count);

        await using var alice = TestCircuit.Create();
        alice.Open(User("alice", "s1"));
        Assert.AreEqual(1, alice.Registry.Count);
        await alice.Handler.OnCircuitClosedAsync((Circuit)RuntimeHelpers.GetUninitializedObject(typeof(Circuit)), CancellationToken.None);
        Assert.AreEqual(0, alice.Registry.Count);
    }

    [TestMethod]
    [DataRow("/", "r", "/?reason=r")]
    [DataRow("/signed-out", "a b&c", "/signed-out?reason=a%20b%26c")]
    [DataRow("/x?y=1", "r", "/x?y=1&reason=r")]
    [DataRow("/signed-out", null, "/signed-out")]
    public void The_signed_out_path_carries_the_reason(string path, string? reason, string expected) =>
        Assert.AreEqual(expected, AutoSignOutCircuitHandler.BuildSignedOutPath(new AutoSignOutCircuitOptions { SignedOutPath = path }, reason));

    [TestMethod]
    public void Signed_out_paths_must_be_app_relative()
    {
        var validator = new AutoSignOutCircuitOptionsValidator();
        Assert.IsTrue(validator.Validate(null, new AutoSignOutCircuitOptions { SignedOutPath = "/signed-out" }).Succeeded);
        Assert.IsTrue(validator.Validate(null, new AutoSignOutCircuitOptions { SignedOutPath = "https://evil.test/" }).Failed);
        Assert.IsTrue(validator.Validate(null, new AutoSignOutCircuitOptions { SignedOutPath = "//evil.test/" }).Failed);
    }

    [TestMethod]
    public void A_revoked_circuit_secret_is_remembered_for_as_long_as_Blazor_can_bring_the_circuit_back()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(time);
        services.AddAutoSignOut().AddBlazorCircuits();
        using var provider = services.BuildServiceProvider();
        var gate = provider.GetRequiredService<CircuitHubGate>();
        gate.RevokeSecret("secret-1");
        gate.RevokeSecret(null);
        Assert.IsTrue(gate.IsRevokedSecret("secret-1"));
        Assert.IsFalse(gate.IsRevokedSecret("secret-2"));

        // Blazor keeps a disconnected circuit 3 minutes, and a persisted one up to 8 hours (distributed cache) by default.
        time.Advance(TimeSpan.FromHours(8));
        Assert.IsTrue(gate.IsRevokedSecret("secret-1"));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.IsFalse(gate.IsRevokedSecret("secret-1"));
        gate.RevokeSecret("secret-3");
        Assert.AreEqual(1, gate.RevokedSecretCount, "Expired secrets are swept.");
    }

    [TestMethod]
    public async Task A_circuit_whose_issue_time_is_unknown_counts_as_old_and_a_late_signal_reaches_it()
    {
        await using var circuit = TestCircuit.Create();

        // No hub connection and no issue time (a circuit opened without the authentication service's record).
        circuit.Open(User("alice", "s-late"));

        // A revocation made a minute ago, reaching this node only now.
        await circuit.SignOut.PublishAsync(new SignOutSignal { Issuer = System.Security.Claims.ClaimsIdentity.DefaultIssuer, SessionId = "s-late", CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1) });

        Assert.IsTrue(circuit.Handler.IsSignedOut);
    }

    private static ClaimsPrincipal User(string subject, string sessionId) =>
        new(new ClaimsIdentity([new Claim("sub", subject), new Claim("sid", sessionId)], "test"));

    /// <summary>One circuit's scope: Blazor's own authentication state provider, a fake browser end.</summary>
    private sealed class TestCircuit : IAsyncDisposable
    {
        private readonly ServiceProvider? _owned;
        private readonly AsyncServiceScope _scope;

        private TestCircuit(IServiceProvider services, ServiceProvider? owned)
        {
            Services = services;
            _owned = owned;
            _scope = services.CreateAsyncScope();
            Handler = (AutoSignOutCircuitHandler)_scope.ServiceProvider.GetServices<CircuitHandler>().Single(h => h is AutoSignOutCircuitHandler);
            Authentication = _scope.ServiceProvider.GetRequiredService<AuthenticationStateProvider>();
            Js = (FakeJsRuntime)_scope.ServiceProvider.GetRequiredService<IJSRuntime>();
        }

        public IServiceProvider Services { get; }

        public AutoSignOutCircuitHandler Handler { get; }

        public AuthenticationStateProvider Authentication { get; }

        public FakeJsRuntime Js { get; }

        public LiveConnectionRegistry Registry => Services.GetRequiredService<LiveConnectionRegistry>();

        public IAutoSignOutService SignOut => Services.GetRequiredService<IAutoSignOutService>();

        public static TestCircuit Create(Action<AutoSignOutCircuitOptions>? configure = null, IServiceProvider? services = null)
        {
            if (services is not null)
            {
                return new TestCircuit(services, null);
            }

            var collection = new ServiceCollection().AddLogging();
            collection.AddAutoSignOut().AddBlazorCircuits(configure);
            collection.AddScoped<AuthenticationStateProvider, ServerAuthenticationStateProvider>();
            collection.AddScoped<NavigationManager, FakeNavigationManager>();
            collection.AddScoped<IJSRuntime, FakeJsRuntime>();
            var provider = collection.BuildServiceProvider();
            return new TestCircuit(provider, provider);
        }

        public void Open(ClaimsPrincipal user, DateTimeOffset? issuedAt = null)
        {
            ((IHostEnvironmentAuthenticationStateProvider)Authentication).SetAuthenticationState(Task.FromResult(new AuthenticationState(user)));
            Handler.Attach(hub: null, user, issuedAt);
        }

        public async ValueTask DisposeAsync()
        {
            await _scope.DisposeAsync();
            if (_owned is not null)
            {
                await _owned.DisposeAsync();
            }
        }
    }

    private sealed class FakeNavigationManager : NavigationManager
    {
        public FakeNavigationManager() => Initialize("https://app.test/base/", "https://app.test/base/live");
    }

    /// <summary>Records the call the circuit makes to the browser; there is no browser in these tests.</summary>
    private sealed class FakeJsRuntime : IJSRuntime
    {
        public string? Identifier { get; private set; }

        public object?[] Arguments { get; private set; } = [];

        public ValueTask<TValue> InvokeAsync<TValue>(string identifier, object?[]? args)
        {
            Identifier = identifier;
            Arguments = args ?? [];
            return ValueTask.FromResult(default(TValue)!);
        }

        public ValueTask<TValue> InvokeAsync<TValue>(string identifier, CancellationToken cancellationToken, object?[]? args) =>
            InvokeAsync<TValue>(identifier, args);
    }
}
