using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.AspNetCore;

/// <summary>Returned by <c>AddAutoSignOut</c>, for add-ons such as a multi-node signal bus or Blazor circuits.</summary>
public interface IAutoSignOutBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}

internal sealed class AutoSignOutBuilder(IServiceCollection services) : IAutoSignOutBuilder
{
    public IServiceCollection Services { get; } = services;
}
