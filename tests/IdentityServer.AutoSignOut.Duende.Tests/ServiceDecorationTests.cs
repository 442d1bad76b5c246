using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>The binding's own decorator helper (Duende's is internal), on every kind of registration.</summary>
[TestClass]
public sealed class ServiceDecorationTests
{
    public interface IGreeter
    {
        string Greet();
    }

    public sealed class Greeter : IGreeter
    {
        public string Greet() => "hello";
    }

    public sealed class Shouting(IGreeter inner) : IGreeter
    {
        public string Greet() => inner.Greet().ToUpperInvariant();
    }

    [TestMethod]
    public void A_type_registration_is_decorated_with_its_lifetime()
    {
        var services = new ServiceCollection().AddScoped<IGreeter, Greeter>();
        Assert.IsTrue(services.TryDecorate<IGreeter, Shouting>());
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();
        Assert.AreEqual("HELLO", scope.ServiceProvider.GetRequiredService<IGreeter>().Greet());
        Assert.AreSame(scope.ServiceProvider.GetRequiredService<IGreeter>(), scope.ServiceProvider.GetRequiredService<IGreeter>());
        Assert.AreEqual(ServiceLifetime.Scoped, services.Single(d => d.ServiceType == typeof(IGreeter)).Lifetime);
    }

    [TestMethod]
    public void A_factory_registration_is_decorated()
    {
        var services = new ServiceCollection().AddTransient<IGreeter>(_ => new Greeter());
        Assert.IsTrue(services.TryDecorate<IGreeter, Shouting>());
        using var provider = services.BuildServiceProvider();
        Assert.AreEqual("HELLO", provider.GetRequiredService<IGreeter>().Greet());
    }

    [TestMethod]
    public void An_instance_registration_is_decorated()
    {
        var instance = new Greeter();
        var services = new ServiceCollection().AddSingleton<IGreeter>(instance);
        Assert.IsTrue(services.TryDecorate<IGreeter, Shouting>());
        using var provider = services.BuildServiceProvider();
        Assert.AreEqual("HELLO", provider.GetRequiredService<IGreeter>().Greet());
        Assert.AreSame(provider.GetRequiredService<IGreeter>(), provider.GetRequiredService<IGreeter>());
    }

    [TestMethod]
    public void A_missing_service_is_not_decorated() =>
        Assert.IsFalse(new ServiceCollection().TryDecorate<IGreeter, Shouting>());

    [TestMethod]
    public void Only_the_last_registration_is_decorated()
    {
        var services = new ServiceCollection().AddSingleton<IGreeter, Greeter>().AddSingleton<IGreeter>(_ => new Greeter());
        Assert.IsTrue(services.TryDecorate<IGreeter, Shouting>());
        using var provider = services.BuildServiceProvider();
        CollectionAssert.AreEqual(new[] { "hello", "HELLO" }, provider.GetServices<IGreeter>().Select(g => g.Greet()).ToArray());
    }
}
