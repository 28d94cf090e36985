console.log('flotilla');
